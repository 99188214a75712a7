/**
 * Validating KMS request bodies against KMS's model. As AWS JSON services answer: a member of
 * the wrong JSON type (or a blob that is not base64) is a SerializationException; a missing
 * required member or a value outside its constraints is a ValidationException worded
 * `1 validation error detected: Value at 'keyId' failed to satisfy constraint: ...`. Values are
 * never quoted back (they may be plaintext). Unknown members are ignored, so newer SDKs that send
 * members this model lacks still work.
 */
import { z } from 'zod';
import { KmsCodes } from '../../core/errors.js';
import { blob, integer, list, oneOf, patterned, text } from '../model/constraints.js';
import { parseJsonInput } from '../model/json.js';
import { kmsWireError } from './protocol.js';

export { integer, oneOf, patterned, rule, text } from '../model/constraints.js';

export function parseKmsInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return parseJsonInput(schema, body, (kind, message) => kmsWireError(kind === 'validation' ? KmsCodes.Validation : KmsCodes.Serialization, message));
}

export const keyId = text(1, 2048);
export const limit = integer(1, 1000).optional();
export const marker = patterned(1, 1024, '[\\u0020-\\u00FF]*').optional();
export const encryptionContext = z.record(z.string(), z.string()).optional();
export const grantTokens = list(text(1, 8192), 0, 10).optional();
export const dryRun = z.boolean().optional();
/** Nitro Enclaves' attestation: checked against the model, then refused (Berth's KMS has no enclaves). */
export const recipient = z
  .object({ KeyEncryptionAlgorithm: oneOf(['RSAES_OAEP_SHA_256']).optional(), AttestationDocument: blob(1, 262144).optional() })
  .optional();
export const encryptionAlgorithm = oneOf(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE']).optional();
