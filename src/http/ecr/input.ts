/**
 * ECR's request bodies checked against its model (model/refusal.ts gives the order and the
 * words): a body that does not deserialize → `SerializationException`; the model's constraints,
 * all at once, values quoted → `ValidationException`; ECR's own rules beyond the model
 * (`serviceRule`, e.g. a repository name's grammar) → `InvalidParameterException: Invalid
 * parameter at '<field>' failed to satisfy constraint: '<why>'`.
 */
import { z } from 'zod';
import { Codes, EcrCodes } from '../../core/errors.js';
import type { EcrCall } from './context.js';
import { blobBytes, modelPattern } from '../model/constraints.js';
import { parseJson } from '../model/json.js';
import type { Refusal, Wording } from '../model/refusal.js';
import { EcrError } from './protocol.js';

export { modelPattern } from '../model/constraints.js';

/** ECR names members as sent and quotes values, a long one cut (a manifest can be megabytes). */
const ECR_WORDING: Wording = { lowerFirst: false, quote: renderValue };

export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return parseJson(schema, body, ECR_WORDING, ecrError);
}

function ecrError(r: Refusal): EcrError {
  if (r.kind === 'rule') return new EcrError(Codes.InvalidParameter, `Invalid parameter at '${r.field}' failed to satisfy constraint: '${r.why}'`);
  return new EcrError(r.kind === 'serialization' ? EcrCodes.Serialization : EcrCodes.Validation, r.message);
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

/** A rule of ECR's own, beyond its model's constraints: InvalidParameterException when broken. */
export function serviceRule(pattern: RegExp, why: string): [(s: string) => boolean, { message: string }] {
  return [(s: string) => pattern.test(s), { message: why }];
}

function renderValue(v: unknown): string {
  const text = Array.isArray(v)
    ? `[${v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ')}]`
    : typeof v === 'object'
      ? JSON.stringify(v)
      : String(v);
  // A value can be megabytes (a manifest): name it, don't echo it.
  return `'${text.length > 256 ? `${text.slice(0, 256)}...` : text}'`;
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

/** A base64 blob of at most `max` bytes, decoded (model/constraints.ts). */
export const blob = (max: number) => blobBytes(0, max);

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
