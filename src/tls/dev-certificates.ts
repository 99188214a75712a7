/**
 * A local certificate authority and server certificates signed by it, for development: ECDSA
 * P-256 keys and SHA-256 signatures (accepted by Go's crypto/x509 that skopeo, podman and docker
 * use, and by OpenSSL under Python's strict verification that the AWS CLI uses), with the
 * extensions strict verifiers insist on: key identifiers, critical basic constraints and key usage.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

/** The object identifiers of the certificates Berth issues (development TLS, code signing). */
export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  codeSigning: '1.3.6.1.5.5.7.3.3',
};

const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
/** What Apple's platforms accept for a certificate from a private CA. */
const SERVER_DAYS = 825;
/** Certificates start an hour early so that a client whose clock lags still accepts them. */
const BACKDATE_MS = 3_600_000;

export interface Pem {
  cert: string;
  key: string;
}

export class CertificateRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateRequestError';
  }
}

export function createCertificateAuthority(now = new Date()): Pem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = distinguishedName(`Berth development CA ${randomBytes(4).toString('hex')}`);
  const keyId = keyIdentifier(publicKey);
  const cert = issue({
    subject: name,
    issuer: name,
    publicKey,
    signingKey: privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
      // digitalSignature, keyCertSign, cRLSign: bits 0, 5 and 6.
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x86]), 7)),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyId)),
    ],
  });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A server certificate for `hosts` (DNS names and IP addresses, each a subject alternative name). */
export function createServerCertificate(ca: Pem, hosts: string[], now = new Date()): Pem {
  if (hosts.length === 0) throw new CertificateRequestError('at least one host is needed');
  const names = hosts.map(subjectAltName);
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  if (!caCert.checkPrivateKey(caKey)) throw new CertificateRequestError('the CA key does not match the CA certificate');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issue({
    subject: distinguishedName(hosts[0]!),
    issuer: issuerName(caCert),
    publicKey,
    signingKey: caKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(now.getTime() + SERVER_DAYS * DAY_MS, new Date(caCert.validTo).getTime())),
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      // digitalSignature only: an ECDSA key signs the handshake, it never encrypts a key.
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 1)),
      extension(OID.extKeyUsage, false, der.sequence(der.objectIdentifier(OID.serverAuth))),
      extension(OID.subjectAltName, false, der.sequence(...names)),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(publicKey))),
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyIdentifier(caCert.publicKey)))),
    ],
  });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export interface Issue {
  subject: Buffer;
  issuer: Buffer;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
  /** The signature's hash: SHA-256 (the default, for P-256 keys) or SHA-384 (P-384 keys, code signing). */
  hash?: 'sha256' | 'sha384';
}

const SIGNATURE_OID = { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3' };

/** A certificate (PEM) of `req.publicKey`, signed by `req.signingKey` with ECDSA. */
export function issue(req: Issue): string {
  const hash = req.hash ?? 'sha256';
  const algorithm = der.sequence(der.objectIdentifier(SIGNATURE_OID[hash]));
  // RFC 5280: a positive serial of at most 20 bytes; 16 random bytes with the top bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    algorithm,
    req.issuer,
    der.sequence(der.time(req.notBefore), der.time(req.notAfter)),
    req.subject,
    req.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...req.extensions)),
  );
  const signature = sign(hash, tbs, req.signingKey);
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));
  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

export function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.objectIdentifier(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

export function distinguishedName(commonName: string, organization = 'Berth development'): Buffer {
  const attribute = (oid: string, value: string) => der.set(der.sequence(der.objectIdentifier(oid), der.utf8String(value)));
  return der.sequence(attribute(OID.organization, organization), attribute(OID.commonName, commonName));
}

/**
 * The issuer field must equal the CA's subject byte for byte: it is taken from the CA
 * certificate's own DER (TBSCertificate's sixth element) rather than rebuilt from its text.
 */
function issuerName(ca: X509Certificate): Buffer {
  const elements = children(children(ca.raw)[0]!);
  return elements[5]!;
}

/** The complete TLVs inside a constructed TLV. */
function children(node: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = headerLength(node);
  while (pos < node.length) {
    const len = headerLength(node.subarray(pos)) + contentLength(node.subarray(pos));
    out.push(node.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

function headerLength(node: Buffer): number {
  const first = node[1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(node: Buffer): number {
  const first = node[1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + node[2 + i]!;
  return n;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = children(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = spki[1]!;
  // Skip the BIT STRING's header and its unused-bits byte.
  return createHash('sha1')
    .update(bits.subarray(headerLength(bits) + 1))
    .digest();
}

function subjectAltName(host: string): Buffer {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const version = isIP(bare);
  if (version === 4) return der.implicitPrimitive(7, Buffer.from(bare.split('.').map(Number)));
  if (version === 6) return der.implicitPrimitive(7, ipv6Bytes(bare));
  if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(bare)) {
    throw new CertificateRequestError(`not a host name or IP address: ${JSON.stringify(host)}`);
  }
  return der.implicitPrimitive(2, Buffer.from(bare.toLowerCase(), 'ascii'));
}

/** The 16 bytes of an IPv6 address that net.isIP accepted (zone ids are not certificate material). */
function ipv6Bytes(address: string): Buffer {
  let text = address.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(parseInt(g, 16), i * 2);
  return out;
}
