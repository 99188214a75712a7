/**
 * The key pair and certificate of a signing profile: ECDSA P-384 with SHA-384, what AWS Signer's
 * Notation-OCI-SHA384-ECDSA platform signs with. The certificate is self-signed and shaped as
 * the Notary Project's verifiers require of a one-certificate chain (notation-core-go's
 * ValidateCodeSigningCertChain): not a CA (critical basic constraints), key usage
 * digitalSignature only (critical), extended key usage codeSigning.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as der from '../tls/der.js';
import { distinguishedName, extension, issue, keyIdentifier, OID } from '../tls/dev-certificates.js';

const DAY_MS = 86_400_000;
/** Starts an hour early, so that a verifier whose clock lags still finds it valid. */
const BACKDATE_MS = 3_600_000;

export interface SigningMaterial {
  /** PKCS#8 PEM: sealed before it is stored. */
  privateKeyPem: string;
  certificatePem: string;
}

export function createSigningMaterial(opts: { profileName: string; accountId: string; now: Date; validDays: number }): SigningMaterial {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  // The suffix keeps apart, in one trust store, profiles of one name in other regions or deployments.
  const name = distinguishedName(`${opts.profileName} ${randomBytes(4).toString('hex')}`, `Berth signer ${opts.accountId}`);
  const certificatePem = issue({
    subject: name,
    issuer: name,
    publicKey,
    signingKey: privateKey,
    hash: 'sha384',
    notBefore: new Date(opts.now.getTime() - BACKDATE_MS),
    notAfter: new Date(opts.now.getTime() + opts.validDays * DAY_MS),
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      // digitalSignature only (bit 0).
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 1)),
      extension(OID.extKeyUsage, false, der.sequence(der.objectIdentifier(OID.codeSigning))),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(publicKey))),
    ],
  });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem };
}
