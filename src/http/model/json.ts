/**
 * A JSON body (AWS JSON 1.1: ECR, ECR Public, KMS, Secrets Manager, EventBridge) checked against
 * a service's model (refusal.ts). On this protocol a null member is an absent one.
 */
import type { z } from 'zod';
import { parseModel, type Refusal, validationMessage, type Wording } from './refusal.js';

/** KMS, Secrets Manager and EventBridge never quote a value back: it may be a secret or plaintext. */
const UNQUOTED: Wording = { lowerFirst: true, quote: () => undefined };

export type InputError = (kind: 'validation' | 'serialization', message: string) => Error;

/**
 * Deeper than any model's members go (EventBridge's connections reach 6), and far short of the
 * depth at which a walker that recurses (withoutNulls, the audit trail's redaction) overflows
 * the stack: a few thousand brackets, a few KiB, would otherwise answer 500.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The body of an AWS JSON 1.1 call (or the console's), as an object: empty is `{}`; not JSON, not
 * an object, or nested more than MAX_JSON_DEPTH deep is refused with the door's
 * SerializationException (`serialization` builds it), before anything reads the value.
 */
export function jsonObjectBody(raw: Buffer, serialization: (message: string) => Error): Record<string, unknown> {
  let body: unknown;
  try {
    body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    throw serialization('request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw serialization('request body must be a JSON object');
  if (nestedTooDeep(body)) throw serialization(`request body is nested more than ${MAX_JSON_DEPTH} deep`);
  return body as Record<string, unknown>;
}

/** Walked with a list, not recursion: the check must not overflow where the walkers it guards would. */
function nestedTooDeep(root: object): boolean {
  const pending: Array<[object, number]> = [[root, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child !== 'object' || child === null) continue;
      if (depth + 1 > MAX_JSON_DEPTH) return true;
      pending.push([child as object, depth + 1]);
    }
  }
  return false;
}

/** A body of KMS, Secrets Manager or EventBridge: each door says how its two exceptions are built. */
export function parseJsonInput<T extends z.ZodType>(schema: T, body: unknown, error: InputError): z.infer<T> {
  return parseJson(schema, body, UNQUOTED, (r) =>
    r.kind === 'rule' ? error('validation', r.own ? r.why : validationMessage(r.field, r.why)) : error(r.kind, r.message),
  );
}

export function parseJson<T extends z.ZodType>(schema: T, body: unknown, wording: Wording, refuse: (r: Refusal) => Error): z.infer<T> {
  return parseModel(schema, withoutNulls(body), wording, refuse);
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}
