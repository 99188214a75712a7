/**
 * A JSON body (AWS JSON 1.1: ECR, ECR Public, KMS, Secrets Manager, EventBridge) checked against
 * a service's model (refusal.ts). On this protocol a null member is an absent one.
 */
import type { z } from 'zod';
import { parseModel, type Refusal, validationMessage, type Wording } from './refusal.js';

/** KMS, Secrets Manager and EventBridge never quote a value back: it may be a secret or plaintext. */
const UNQUOTED: Wording = { lowerFirst: true, quote: () => undefined };

export type InputError = (kind: 'validation' | 'serialization', message: string) => Error;

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
