/**
 * Validating ECR request bodies. SDKs validate almost nothing client-side, so every field is
 * checked here against ECR's model and a failure is answered in ECR's words, translated from the
 * schema's own constraints (never the validation library's text), in the order ECR checks:
 *
 * 1. a body that does not deserialize into the model's types (a string for a number, a fraction
 *    for an integer, an unknown member) → `SerializationException`;
 * 2. the model's constraints (required, length, range, enum, pattern), all of them at once →
 *    `ValidationException: 2 validation errors detected: Value 'x' at 'a.b' failed to satisfy
 *    constraint: Member must ...; Value ...`;
 * 3. ECR's own rules beyond the model (`serviceRule`, e.g. a repository name's grammar) →
 *    `InvalidParameterException: Invalid parameter at '<field>' failed to satisfy constraint: '<why>'`.
 */
import { z } from 'zod';
import { Codes, EcrCodes } from '../../core/errors.js';
import type { EcrCall } from './context.js';
import { modelRegExp } from '../json-input.js';
import { EcrError } from './protocol.js';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  // On the AWS JSON protocol a null member is an absent one.
  const input = withoutNulls(body);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw inputError(result.error.issues, input);
}

/**
 * An action that parses its input with `schema`, then runs. `schema` and `run` stay reachable so
 * that ECR Public, serving the same operation over its own model's members (its names, its
 * registry aliases), parses with its schema and runs the same code (ecr-public/input.ts).
 */
export interface ParsedAction<S extends z.ZodObject> {
  (call: EcrCall): Promise<unknown>;
  readonly schema: S;
  readonly run: (call: EcrCall, input: z.infer<S>) => Promise<unknown>;
}

export function parsedAction<S extends z.ZodObject>(schema: S, run: (call: EcrCall, input: z.infer<S>) => Promise<unknown>): ParsedAction<S> {
  return Object.assign((call: EcrCall) => run(call, parseInput(schema, call.body)), { schema, run });
}

/** The one error ECR would answer for these issues (exported for unit tests). */
export function inputError(issues: readonly Issue[], input: unknown): EcrError {
  const serialization = issues.find((i) => isSerializationIssue(i, input, issues));
  if (serialization) return new EcrError(EcrCodes.Serialization, serializationMessage(serialization));
  const seen = new Set<string>();
  const model: string[] = [];
  for (const issue of issues) {
    const why = modelConstraint(issue, input);
    const field = memberPath(issue.path);
    if (why === undefined || seen.has(field)) continue;
    seen.add(field);
    model.push(`Value ${renderValue(valueAt(input, issue.path))} at '${field}' failed to satisfy constraint: ${why}`);
  }
  if (model.length > 0) {
    const count = model.length === 1 ? '1 validation error detected' : `${model.length} validation errors detected`;
    return new EcrError(EcrCodes.Validation, `${count}: ${model.join('; ')}`);
  }
  const issue = issues[0]!;
  return new EcrError(Codes.InvalidParameter, `Invalid parameter at '${memberPath(issue.path) || 'request'}' failed to satisfy constraint: '${issue.message}'`);
}

/** A rule of ECR's own, beyond its model's constraints: InvalidParameterException when broken. */
export function serviceRule(pattern: RegExp, why: string): [(s: string) => boolean, { message: string }] {
  return [(s: string) => pattern.test(s), { message: why }];
}

/**
 * Each model pattern's text by its RegExp's: a RegExp prints `/` as `\/`, so the model's own
 * text (which a refusal quotes) cannot be read back from it.
 */
const MODEL_PATTERNS = new Map<string, string>();

/** A model `pattern`, written as the model writes it; the whole value must match (json-input's modelRegExp). */
export function modelPattern(source: string): RegExp {
  const re = modelRegExp(source);
  MODEL_PATTERNS.set(String(re), source);
  return re;
}

function isSerializationIssue(issue: Issue, input: unknown, all: readonly Issue[]): boolean {
  if (issue.code === 'unrecognized_keys') return true;
  if (issue.code === 'invalid_type') return valueAt(input, issue.path) !== undefined;
  // Beyond the integer range, unless the model bounds the member itself (then that is the error).
  if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'int') {
    return !all.some((o) => o !== issue && (o.code === 'too_big' || o.code === 'too_small') && o.origin === 'number' && samePath(o.path, issue.path));
  }
  return false;
}

function serializationMessage(issue: Issue): string {
  if (issue.code === 'unrecognized_keys') return `Unrecognized field(s): ${issue.keys.join(', ')}`;
  const where = memberPath(issue.path);
  if (issue.code === 'invalid_type') return `Unexpected value type at '${where}': expected ${issue.expected === 'int' ? 'an integer' : issue.expected}`;
  return `Numeric value out of range at '${where}'`;
}

function modelConstraint(issue: Issue, input: unknown): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return valueAt(input, issue.path) === undefined ? 'Member must not be null' : undefined;
    case 'too_small':
    case 'too_big': {
      if (issue.origin === 'int') return undefined;
      const bound = issue.code === 'too_small' ? `greater than or equal to ${String(issue.minimum)}` : `less than or equal to ${String(issue.maximum)}`;
      return issue.origin === 'number' || issue.origin === 'bigint' ? `Member must have value ${bound}` : `Member must have length ${bound}`;
    }
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    case 'invalid_format': {
      // Only patterns of the model (modelPattern); any other is a rule of ECR's own.
      const model = issue.format === 'regex' && issue.pattern !== undefined ? modelPatternText(issue.pattern) : undefined;
      return model === undefined ? undefined : `Member must satisfy regular expression pattern: ${model}`;
    }
    default:
      return undefined;
  }
}

/** `/^(?:[0-9]{12})$/` → `[0-9]{12}`, as the model writes it; undefined for other patterns. */
function modelPatternText(pattern: string): string | undefined {
  return MODEL_PATTERNS.get(pattern);
}

/** `['tags', 0, 'Key']` → `tags.1.member.Key`, as ECR names a member (lists count from 1). */
function memberPath(path: Path): string {
  return path.map((p) => (typeof p === 'number' ? `${p + 1}.member` : String(p))).join('.');
}

function samePath(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function renderValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  const text = Array.isArray(v)
    ? `[${v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ')}]`
    : typeof v === 'object'
      ? JSON.stringify(v)
      : String(v);
  // A value can be megabytes (a manifest): name it, don't echo it.
  return `'${text.length > 256 ? `${text.slice(0, 256)}...` : text}'`;
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

export const NAME_RULE = serviceRule(
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
  "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
);

export const repositoryName = z
  .string()
  .min(2)
  .max(256)
  .refine(...NAME_RULE);

export const registryId = z.string().regex(modelPattern('[0-9]{12}'));

/** A digest as the model writes it (LayerDigest, ImageDigest of CompleteLayerUpload); the algorithm is checked later. */
export const layerDigest = z.string().regex(modelPattern('[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'));

export const uploadId = z.string().regex(modelPattern('[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'));

/** imageTagMutabilityExclusionFilters: CreateRepository, PutImageTagMutability, the creation templates. */
export const mutabilityFilters = z
  .array(z.object({ filterType: z.literal('WILDCARD'), filter: z.string().min(1).max(128).regex(modelPattern('^[0-9a-zA-Z._*-]{1,128}$')) }).strict())
  .min(1)
  .max(5);

/**
 * A base64 blob at most `max` bytes once decoded: the model bounds the bytes, not the text, and
 * the refusal reads as any other length (Member must have length less than or equal to max).
 */
export const blob = (max: number) =>
  z.string().check((ctx) => {
    if (decodedLength(ctx.value) > max) {
      ctx.issues.push({ code: 'too_big', origin: 'string', maximum: max, inclusive: true, input: ctx.value, message: 'too long' });
    }
  });

/** Bytes base64 text decodes to, without decoding it. */
function decodedLength(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

export const maxResults = (max = 1000) => z.number().int().min(1).max(max);

export const nextToken = z.string().min(1).max(4096);

export const imageId = z
  .object({
    imageDigest: z.string().max(1024).optional(),
    imageTag: z.string().min(1).max(300).optional(),
  })
  .strict();

export const imageIds = z.array(imageId).min(1).max(100);

export const resourceTags = z.array(z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256) }).strict()).max(200);

export const tagStatusFilter = z
  .object({ tagStatus: z.enum(['TAGGED', 'UNTAGGED', 'ANY']).optional(), imageStatus: z.enum(['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY']).optional() })
  .strict();

/**
 * Opaque pagination tokens: the position to continue after, sealed into base64url JSON with
 * the operation's name so a token can't be replayed against another listing.
 */
export function encodeToken(op: string, after: string): string {
  return Buffer.from(JSON.stringify({ op, after })).toString('base64url');
}

export function decodeToken(op: string, token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { op?: unknown; after?: unknown };
    if (v.op === op && typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
}
