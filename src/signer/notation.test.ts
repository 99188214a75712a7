import assert from 'node:assert/strict';
import { createHash, createPrivateKey, verify, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSigningMaterial } from './certificate.js';
import { chainDer, EMPTY_CONFIG, EMPTY_CONFIG_BYTES, notationEnvelope, signatureManifest, THUMBPRINT_ANNOTATION } from './notation.js';

describe('Notation signatures', () => {
  const now = new Date('2026-12-07T09:00:00.250Z');
  const material = createSigningMaterial({ profileName: 'unit', accountId: '123456789012', now, validDays: 30 });
  const chain = chainDer(material.certificatePem);
  const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 321 };

  it('makes a self-signed P-384 code-signing certificate that is no CA, for the key it holds', () => {
    const cert = new X509Certificate(material.certificatePem);
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(material.privateKeyPem)));
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.3']);
    assert.equal(cert.subject, 'O=Berth signer 123456789012\nCN=' + cert.subject.split('CN=')[1]);
    assert.ok(new Date(cert.validFrom) < now && new Date(cert.validTo) > new Date(now.getTime() + 29 * 86_400_000));
  });

  it('signs the target descriptor as an ES384 JWS whose protected header Notation requires', () => {
    const expiry = new Date(now.getTime() + 86_400_000);
    const jws = JSON.parse(
      notationEnvelope({ target, chain, key: createPrivateKey(material.privateKeyPem), signingTime: now, expiry, signingAgent: 'test' }).toString(),
    ) as {
      payload: string;
      protected: string;
      header: { x5c: string[] };
      signature: string;
    };
    const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(header, {
      alg: 'ES384',
      crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'],
      cty: 'application/vnd.cncf.notary.payload.v1+json',
      'io.cncf.notary.signingScheme': 'notary.x509',
      'io.cncf.notary.signingTime': '2026-12-07T09:00:00Z',
      'io.cncf.notary.expiry': '2026-12-08T09:00:00Z',
    });
    assert.deepEqual(JSON.parse(Buffer.from(jws.payload, 'base64url').toString()), { targetArtifact: target });
    const cert = new X509Certificate(Buffer.from(jws.header.x5c[0]!, 'base64'));
    const signature = Buffer.from(jws.signature, 'base64url');
    assert.equal(signature.length, 96, 'r||s of 48 bytes each, not DER');
    assert.ok(verify('sha384', Buffer.from(`${jws.protected}.${jws.payload}`), { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, signature));
    assert.ok(!verify('sha384', Buffer.from(`${jws.protected}.${jws.payload}x`), { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, signature));
  });

  it('stores the envelope as the one layer of a signature manifest whose subject is the target', () => {
    const envelope = Buffer.from('{"jws":1}');
    const manifest = JSON.parse(signatureManifest({ subject: target, envelope, chain, created: now }).toString()) as Record<string, unknown>;
    assert.equal(manifest.artifactType, 'application/vnd.cncf.notary.signature');
    assert.deepEqual(manifest.subject, target);
    assert.deepEqual(manifest.config, EMPTY_CONFIG);
    assert.equal(EMPTY_CONFIG.digest, `sha256:${createHash('sha256').update(EMPTY_CONFIG_BYTES).digest('hex')}`);
    assert.deepEqual(manifest.layers, [
      { mediaType: 'application/jose+json', digest: `sha256:${createHash('sha256').update(envelope).digest('hex')}`, size: envelope.length },
    ]);
    assert.equal(
      (manifest.annotations as Record<string, string>)[THUMBPRINT_ANNOTATION],
      JSON.stringify([createHash('sha256').update(chain[0]!).digest('hex')]),
    );
  });
});
