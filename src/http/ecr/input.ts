/**
 * Validating ECR request bodies. SDKs validate almost nothing client-side, so every field is
 * checked here against ECR's model (types, lengths, patterns, enums) and a failure is answered as
 * ECR does: `InvalidParameterException: Invalid parameter at '<field>' failed to satisfy
 * constraint: '<why>'`.
 */
import { z } from 'zod';
import { EcrError } from './protocol.js';

export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || 'request';
  if (issue.code === 'unrecognized_keys') {
    throw new EcrError('SerializationException', `Unrecognized field(s): ${issue.keys.join(', ')}`);
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    throw new EcrError('InvalidParameterException', `Invalid parameter at '${field}' failed to satisfy constraint: 'Member must not be null'`);
  }
  throw new EcrError('InvalidParameterException', `Invalid parameter at '${field}' failed to satisfy constraint: '${issue.message}'`);
}

const NAME_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const repositoryName = z
  .string()
  .min(2, 'Member must have length greater than or equal to 2')
  .max(256, 'Member must have length less than or equal to 256')
  .regex(NAME_PATTERN, "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'");

export const registryId = z.string().regex(/^[0-9]{12}$/, "must satisfy regular expression '[0-9]{12}'");

export const maxResults = (max = 1000) =>
  z.number().int().min(1, 'Member must have value greater than or equal to 1').max(max, `Member must have value less than or equal to ${max}`);

export const nextToken = z.string().min(1).max(4096);

export const imageId = z
  .object({
    imageDigest: z.string().max(1024).optional(),
    imageTag: z.string().min(1).max(300).optional(),
  })
  .strict();

export const imageIds = z.array(imageId).min(1, 'Member must have length greater than or equal to 1').max(100, 'Member must have length less than or equal to 100');

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
  throw new EcrError('InvalidParameterException', "Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
}
