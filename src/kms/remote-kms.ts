/**
 * An AWS KMS endpoint, as Berth uses it when kmsProvider is 'aws': DescribeKey to check a
 * repository's key, GenerateDataKey once per key for a wrapping key, Decrypt to open it again.
 * Failures that are the key owner's to fix (a missing, disabled or forbidden key) become
 * ECR's KmsException; anything else (the endpoint unreachable) stays a fault.
 */
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Codes, KmsCodes, RegistryError } from '../core/errors.js';

/** auth/via-service.ts's header (kms/ imports nothing from auth/; the composition root passes the proof). */
const VIA_SERVICE_HEADER = 'x-berth-via-service';

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

export interface AwsKmsOptions {
  endpoint?: string;
  region: string;
  /**
   * The value of the header (x-berth-via-service) saying a request is ECR's own use of the key,
   * for a KMS that is another Berth sharing the server key: it lets ECR use that Berth's AWS
   * managed key (`alias/aws/ecr`), which a direct call may not, and sets kms:ViaService there.
   * AWS KMS ignores the header.
   */
  viaService?: (req: { operation: string; region: string; body: string | Uint8Array }) => Promise<string>;
}

export function awsKms(opts: AwsKmsOptions): RemoteKms {
  const client = new KMSClient({
    region: opts.region,
    ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
    // AWS_ENDPOINT_URL may point the aws CLI at Berth itself; the KMS endpoint comes from config only.
    ignoreConfiguredEndpointUrls: true,
    maxAttempts: 3,
  });
  const { viaService } = opts;
  if (viaService) {
    // After the body is serialized, before it is signed (the header is signed with it).
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string>; body?: unknown };
        const target = request.headers?.['x-amz-target'];
        const { body } = request;
        if (request.headers && (typeof body === 'string' || body instanceof Uint8Array) && target?.startsWith('TrentService.')) {
          const operation = target.slice('TrentService.'.length);
          request.headers[VIA_SERVICE_HEADER] = await viaService({ operation, region: opts.region, body });
        }
        return next(args);
      },
      { step: 'build', name: 'berthViaService' },
    );
  }
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
