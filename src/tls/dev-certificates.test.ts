import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { CertificateRequestError, createCertificateAuthority, createServerCertificate } from './dev-certificates.js';

describe('development certificates', () => {
  const ca = createCertificateAuthority();

  it('issues a server certificate signed by the CA, with a SAN for every DNS name and IP address', () => {
    const pem = createServerCertificate(ca, ['registry.test', '10.1.2.3', '::1', 'fe80::1:2', '[2001:db8::ff]']);
    const cert = new X509Certificate(pem.cert);
    assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(pem.key)));
    assert.equal(
      cert.subjectAltName,
      'DNS:registry.test, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2, IP Address:2001:DB8:0:0:0:0:0:FF',
    );
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('registry.test'), 'registry.test');
    assert.equal(cert.issuer, new X509Certificate(ca.cert).subject);
  });

  it('encodes validity past 2049 as GeneralizedTime', () => {
    const later = createCertificateAuthority(new Date('2060-01-01T00:00:00Z'));
    assert.equal(new Date(new X509Certificate(later.cert).validFrom).getUTCFullYear(), 2059);
    assert.equal(new Date(new X509Certificate(later.cert).validTo).getUTCFullYear(), 2069);
  });

  it('refuses what is neither a host name nor an IP address', () => {
    assert.throws(() => createServerCertificate(ca, ['bad host']), CertificateRequestError);
    assert.throws(() => createServerCertificate(ca, []), CertificateRequestError);
    const other = createCertificateAuthority();
    assert.throws(() => createServerCertificate({ cert: ca.cert, key: other.key }, ['localhost']), /does not match/);
  });
});
