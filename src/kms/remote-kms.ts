/**
 * An AWS KMS endpoint, as Berth uses it when kmsProvider is 'aws': DescribeKey to check a
 * repository's key, GenerateDataKey once per key for a wrapping key, Decrypt to open it again.
 * Failures that are the key owner's to fix (a missing, disabled or forbidden key) become
 * ECR's KmsException; anything else (the endpoint unreachable) stays a fault.
 */
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Codes, KmsCodes, RegistryError } from '../core/errors.js';

export interface RemoteKms {
  /** The key's ARN and whether it may be used. */
  describe(keyRef: string): Promise<{ arn: string; enabled: boolean }>;
  /** 32 random bytes from the KMS, and the same sealed under `arn` (bound to `context`). */
  generateDataKey(arn: string, context: Record<string, string>): Promise<{ plaintext: Buffer; ciphertext: Buffer }>;
  decrypt(arn: string, ciphertext: Buffer, context: Record<string, string>): Promise<Buffer>;
}

const OWNER_ERRORS = new Set(
  [
    KmsCodes.NotFound,
    KmsCodes.Disabled,
    KmsCodes.InvalidState,
    KmsCodes.AccessDenied,
    KmsCodes.IncorrectKey,
    KmsCodes.InvalidCiphertext,
    KmsCodes.KeyUnavailable,
    KmsCodes.Validation,
  ].map((c) => c.code),
);

async function ownerErrors<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof Error && OWNER_ERRORS.has(e.name)) throw new RegistryError(Codes.KmsException, `KMS: ${e.name}: ${e.message.slice(0, 300)}`);
    throw e;
  }
}

export function awsKms(opts: { endpoint?: string; region: string }): RemoteKms {
  const client = new KMSClient({
    region: opts.region,
    ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
    // AWS_ENDPOINT_URL may point the aws CLI at Berth itself; the KMS endpoint comes from config only.
    ignoreConfiguredEndpointUrls: true,
    maxAttempts: 3,
  });
  return {
    async describe(keyRef) {
      const { KeyMetadata: m } = await ownerErrors(client.send(new DescribeKeyCommand({ KeyId: keyRef })));
      if (!m?.Arn) throw new RegistryError(Codes.KmsException, `KMS: DescribeKey of ${keyRef.slice(0, 300)} returned no ARN`);
      return { arn: m.Arn, enabled: m.Enabled === true && m.KeyState === 'Enabled' };
    },
    async generateDataKey(arn, context) {
      const r = await ownerErrors(client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext: context })));
      if (!r.Plaintext || !r.CiphertextBlob || r.Plaintext.length !== 32) throw new Error('KMS: GenerateDataKey returned no 32-byte key');
      return { plaintext: Buffer.from(r.Plaintext), ciphertext: Buffer.from(r.CiphertextBlob) };
    },
    async decrypt(arn, ciphertext, context) {
      const r = await ownerErrors(client.send(new DecryptCommand({ KeyId: arn, CiphertextBlob: ciphertext, EncryptionContext: context })));
      if (r.Plaintext?.length !== 32) throw new Error('KMS: Decrypt returned no 32-byte key');
      return Buffer.from(r.Plaintext);
    },
  };
}
