/**
 * Validating AWS JSON 1.1 request bodies against a service's model, as AWS answers: a member of
 * the wrong JSON type is a SerializationException; a missing member or a value outside its
 * constraints is a ValidationException worded `1 validation error detected: Value at 'keyId'
 * failed to satisfy constraint: ...`. Values are never quoted back (they may be secrets or
 * plaintext). Unknown members are ignored, so newer SDKs that send more still work. Each door
 * (KMS, EventBridge) supplies how its errors are built.
 */
import { z } from 'zod';

export type InputError = (kind: 'validation' | 'serialization', message: string) => Error;

/** A member's name as AWS's messages write it (`KeyId` → `keyId`). */
export const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
/** `['Tags', 0, 'Key']` → `tags.1.member.key`, as AWS names a member (list items count from 1). */
const fieldName = (path: PropertyKey[]) =>
  path.map((p) => (typeof p === 'string' ? lowerFirst(p) : typeof p === 'number' ? `${p + 1}.member` : String(p))).join('.') || 'request';

/** AWS's wording of one failed constraint on `field`. */
export const validationMessage = (field: string, constraint: string) =>
  `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`;

function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let v = body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

export function parseJsonInput<T extends z.ZodType>(schema: T, body: unknown, error: InputError): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldName(issue.path);
  if (issue.code === 'custom' && issue.params?.serialization === true) throw error('serialization', `Unexpected value type at '${field}': ${issue.message}`);
  if (issue.code === 'invalid_type') {
    const v = valueAt(body, issue.path);
    if (v === undefined || v === null)
      throw error('validation', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    throw error('serialization', `Unexpected value type at '${field}': expected ${issue.expected}`);
  }
  throw error('validation', validationMessage(field, issue.message));
}

export const text = (min: number, max: number) =>
  z.string().min(min, `Member must have length greater than or equal to ${min}`).max(max, `Member must have length less than or equal to ${max}`);

export const integer = (min: number, max: number) =>
  z.number().int().min(min, `Member must have value greater than or equal to ${min}`).max(max, `Member must have value less than or equal to ${max}`);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `Member must satisfy enum value set: [${values.join(', ')}]` });

/** A list of `item`s within the model's bounds on its length. */
export const list = <T extends z.ZodType>(item: T, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.array(item).min(min, `Member must have length greater than or equal to ${min}`).max(max, `Member must have length less than or equal to ${max}`);

/**
 * A model `pattern` as the model writes it (Java's syntax), the whole value to match: `\p{L}`
 * needs JavaScript's `u` flag, which the `\!` of other patterns would not survive.
 */
export const modelRegExp = (source: string) => new RegExp(`^(?:${source})$`, source.includes('\\p{') ? 'u' : '');

/** A string within the model's lengths and, if given, its pattern (quoted back as the model writes it). */
export const patterned = (min: number, max: number, source: string) =>
  text(min, max).regex(modelRegExp(source), `Member must satisfy regular expression pattern: ${source}`);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A blob member: base64 on the wire (else a SerializationException), bounded by its decoded bytes as the model bounds it. */
export const blob = (min: number, max: number) =>
  z.string().superRefine((v, ctx) => {
    if (v.length % 4 !== 0 || !BASE64.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'expected base64-encoded binary', params: { serialization: true } });
      return;
    }
    const bytes = Buffer.byteLength(v, 'base64');
    if (bytes < min) ctx.addIssue({ code: 'custom', message: `Member must have length greater than or equal to ${min}` });
    else if (bytes > max) ctx.addIssue({ code: 'custom', message: `Member must have length less than or equal to ${max}` });
  });
