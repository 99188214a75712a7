/**
 * Validating EventBridge request bodies against its model, as AWS JSON services answer: a member
 * of the wrong JSON type is a SerializationException; a missing member or a value outside its
 * constraints is a ValidationException in AWS's words. Values are never quoted back (a
 * connection's are secrets). Unknown members are ignored.
 */
import { z } from 'zod';
import { EventsCodes } from '../../core/errors.js';
import { EcrError } from '../ecr/protocol.js';

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const fieldName = (path: PropertyKey[]) => path.map((p) => (typeof p === 'string' ? lowerFirst(p) : String(p))).join('.') || 'request';

function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let v = body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

export function parseEventsInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldName(issue.path);
  if (issue.code === 'invalid_type') {
    const v = valueAt(body, issue.path);
    if (v === undefined || v === null) {
      throw new EcrError(EventsCodes.Validation, `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    }
    throw new EcrError(EventsCodes.Serialization, `Unexpected value type at '${field}': expected ${issue.expected}`);
  }
  throw new EcrError(EventsCodes.Validation, `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${issue.message}`);
}

export const text = (min: number, max: number) =>
  z.string().min(min, `Member must have length greater than or equal to ${min}`).max(max, `Member must have length less than or equal to ${max}`);

export const integer = (min: number, max: number) =>
  z.number().int().min(min, `Member must have value greater than or equal to ${min}`).max(max, `Member must have value less than or equal to ${max}`);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `Member must satisfy enum value set: [${values.join(', ')}]` });

/** Rule, target, connection and API destination names. */
export const name = (max: number) => text(1, max).regex(/^[.\-_A-Za-z0-9]+$/, 'Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+');
export const busName = text(1, 1600).optional();
export const nextToken = text(1, 2048).optional();
export const limit = integer(1, 100).optional();

const parameter = z.object({ Key: text(0, 512), Value: text(0, 512), IsValueSecret: z.boolean().optional() });
export const httpParameters = z
  .object({
    HeaderParameters: z.array(parameter).max(100).optional(),
    QueryStringParameters: z.array(parameter).max(100).optional(),
    BodyParameters: z.array(parameter).max(100).optional(),
  })
  .optional();
