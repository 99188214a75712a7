/**
 * A Notary Project (Notation) signature of an OCI artifact, as AWS Signer's
 * Notation-OCI-SHA384-ECDSA platform makes it: a JWS envelope (JSON serialization) over the
 * target's descriptor, signed ES384, with the certificate chain in `x5c`; and the OCI manifest
 * that stores it as a referrer of the target (artifactType application/vnd.cncf.notary.signature,
 * the envelope as its one layer). Pure functions of their inputs.
 * Spec: notaryproject/specifications, signature-specification.md and signature-envelope-jws.md.
 */
import { createHash, sign, X509Certificate, type KeyObject } from 'node:crypto';

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const JWS_MEDIA_TYPE = 'application/jose+json';
export const NOTATION_PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const THUMBPRINT_ANNOTATION = 'io.cncf.notary.x509chain.thumbprint#S256';
/** OCI's empty descriptor: the config of an artifact that has none (`{}`). */
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The certificates of a PEM bundle, leaf first, as DER. */
export function chainDer(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw);
}

/** The thumbprint annotation's value: a JSON list of the chain's SHA-256 fingerprints, leaf first, lower-case hex. */
export function chainThumbprints(chain: Buffer[]): string {
  return JSON.stringify(chain.map((c) => createHash('sha256').update(c).digest('hex')));
}

/** A Notation JWS envelope (flattened JSON serialization) signing `target`. */
export function notationEnvelope(opts: {
  target: Descriptor;
  chain: Buffer[];
  key: KeyObject;
  signingTime: Date;
  expiry?: Date;
  signingAgent: string;
}): Buffer {
  const payload = JSON.stringify({ targetArtifact: { mediaType: opts.target.mediaType, digest: opts.target.digest, size: opts.target.size } });
  // Whole seconds: verifiers compare times at that precision, and RFC 3339 needs no fraction.
  const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const protectedHeader = JSON.stringify({
    alg: 'ES384',
    crit: ['io.cncf.notary.signingScheme', ...(opts.expiry ? ['io.cncf.notary.expiry'] : [])],
    cty: NOTATION_PAYLOAD_TYPE,
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': rfc3339(opts.signingTime),
    ...(opts.expiry && { 'io.cncf.notary.expiry': rfc3339(opts.expiry) }),
  });
  const signingInput = `${b64url(protectedHeader)}.${b64url(payload)}`;
  // JWS's ES384 is the raw r||s pair (RFC 7518 §3.4), not DER.
  const signature = sign('sha384', Buffer.from(signingInput, 'ascii'), { key: opts.key, dsaEncoding: 'ieee-p1363' });
  return Buffer.from(
    JSON.stringify({
      payload: b64url(payload),
      protected: b64url(protectedHeader),
      header: { x5c: opts.chain.map((c) => c.toString('base64')), 'io.cncf.notary.signingAgent': opts.signingAgent },
      signature: b64url(signature),
    }),
  );
}

/** The OCI image manifest storing `envelope` as a signature referrer of `subject`. */
export function signatureManifest(opts: { subject: Descriptor; envelope: Buffer; chain: Buffer[]; created: Date }): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: NOTATION_ARTIFACT_TYPE,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: JWS_MEDIA_TYPE, digest: `sha256:${createHash('sha256').update(opts.envelope).digest('hex')}`, size: opts.envelope.length }],
      subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size },
      annotations: {
        [THUMBPRINT_ANNOTATION]: chainThumbprints(opts.chain),
        'org.opencontainers.image.created': opts.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    }),
  );
}
