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
import { kmsWireError } from './protocol.js';

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const fieldName = (path: PropertyKey[]) => path.map((p) => (typeof p === 'string' ? lowerFirst(p) : String(p))).join('.') || 'request';

export const validation = (field: string, constraint: string) =>
  kmsWireError(KmsCodes.Validation, `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`);

function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let v = body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

export function parseKmsInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldName(issue.path);
  if (issue.code === 'invalid_type') {
    const v = valueAt(body, issue.path);
    if (v === undefined || v === null)
      throw kmsWireError(KmsCodes.Validation, `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    throw kmsWireError(KmsCodes.Serialization, `Unexpected value type at '${field}': expected ${issue.expected}`);
  }
  throw validation(field, issue.message);
}

export const text = (min: number, max: number) =>
  z.string().min(min, `Member must have length greater than or equal to ${min}`).max(max, `Member must have length less than or equal to ${max}`);

export const integer = (min: number, max: number) =>
  z.number().int().min(min, `Member must have value greater than or equal to ${min}`).max(max, `Member must have value less than or equal to ${max}`);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `Member must satisfy enum value set: [${values.join(', ')}]` });

export const keyId = text(1, 2048);
export const limit = integer(1, 1000).optional();
export const marker = text(1, 1024).optional();
export const encryptionContext = z.record(z.string(), z.string()).optional();
export const grantTokens = z.array(text(1, 8192)).max(10, 'Member must have length less than or equal to 10').optional();
export const dryRun = z.boolean().optional();
export const encryptionAlgorithm = oneOf(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE']).optional();

/** A base64 blob member: decoded, and held to KMS's length limits in bytes. */
export function decodeBlob(member: string, value: string, maxBytes: number): Buffer {
  const field = lowerFirst(member);
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw kmsWireError(KmsCodes.Serialization, `'${field}' is not valid base64`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < 1) throw validation(field, 'Member must have length greater than or equal to 1');
  if (bytes.length > maxBytes) throw validation(field, `Member must have length less than or equal to ${maxBytes}`);
  return bytes;
}
