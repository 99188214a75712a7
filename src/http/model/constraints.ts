/**
 * A service model's constraints on a member, written as zod types that carry nothing but the
 * model's numbers: the words of a refusal are read back from them in one place (refusal.ts),
 * the same for every AWS API Berth serves.
 */
import { z } from 'zod';

/**
 * A model `pattern` as the model writes it (Java's syntax), the whole value to match: `\p{L}`
 * needs JavaScript's `u` flag, which the `\!` of other patterns would not survive.
 */
export const modelRegExp = (source: string) => new RegExp(`^(?:${source})$`, source.includes('\\p{') ? 'u' : '');

/**
 * Each model pattern's text by its RegExp's: a RegExp prints `/` as `\/`, so the model's own
 * text (which a refusal quotes) cannot be read back from it. A pattern not made here is a rule
 * of the service's own, not of its model.
 */
const MODEL_PATTERNS = new Map<string, string>();

/**
 * A model `pattern`, written as the model writes it; the whole value must match. `linear`: a
 * pattern of the same language to match with instead, for a model pattern whose nested
 * quantifiers backtrack exponentially in V8 (a refusal still quotes the model's text).
 */
export function modelPattern(source: string, linear?: string): RegExp {
  const re = modelRegExp(linear ?? source);
  MODEL_PATTERNS.set(String(re), source);
  return re;
}

/** `/^(?:[0-9]{12})$/` → `[0-9]{12}`, as the model writes it; undefined for patterns of no model. */
export const modelPatternText = (pattern: string): string | undefined => MODEL_PATTERNS.get(pattern);

export const text = (min: number, max?: number) => (max === undefined ? z.string().min(min) : z.string().min(min).max(max));

/** A string within the model's lengths and its pattern. */
export const patterned = (min: number, max: number | undefined, source: string) => text(min, max).regex(modelPattern(source));

export const integer = (min: number, max: number) => z.number().int().min(min).max(max);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);

/** A list of `item`s within the model's bounds on its length. */
export const list = <T extends z.ZodType>(item: T, min: number, max?: number) => (max === undefined ? z.array(item).min(min) : z.array(item).min(min).max(max));

/**
 * A rule of the service's own beyond its model (refusal.ts's third kind): worded by each door as
 * its refusals of model constraints are, with `why` as the constraint. `own`: the service answers
 * this rule in a message of its own, not in the model's form, and `why` is that whole message.
 */
export const rule = <T extends z.ZodType>(type: T, holds: (value: z.output<T>) => boolean, why: string, own = false) =>
  type.refine(holds, { message: why, ...(own && { params: { own: true } }) });

/**
 * A blob member: base64 on the wire (else, as for any member of the wrong type, a
 * SerializationException), bounded by its decoded bytes as the model bounds it, refused in the
 * words of a length. `blob` keeps the text, `blobBytes` gives the bytes (decoded once).
 */
export const blob = (min: number, max: number) => blobOf(min, max, (text) => text);
export const blobBytes = (min: number, max: number) => blobOf(min, max, (_, bytes) => bytes);

function blobOf<T>(min: number, max: number, out: (text: string, bytes: Buffer) => T) {
  return z.string().transform((v, ctx) => {
    // Node's decoder skips what is not base64 (and reads base64url's - and _): fewer bytes than
    // the text's length promises, or one of those two, is not base64. A scan by RegExp would
    // cost several times the decode on a 20 MiB layer part.
    const bytes = Buffer.from(v, 'base64');
    const promised = (v.length / 4) * 3 - (v.endsWith('==') ? 2 : v.endsWith('=') ? 1 : 0);
    if (v.length % 4 !== 0 || bytes.length !== promised || v.includes('-') || v.includes('_')) {
      ctx.issues.push({ code: 'invalid_type', expected: 'base64-encoded binary' as 'string', input: v });
    } else if (bytes.length < min) {
      ctx.issues.push({ code: 'too_small', origin: 'string', minimum: min, inclusive: true, input: v });
    } else if (bytes.length > max) {
      ctx.issues.push({ code: 'too_big', origin: 'string', maximum: max, inclusive: true, input: v });
    } else {
      return out(v, bytes);
    }
    return z.NEVER;
  });
}
