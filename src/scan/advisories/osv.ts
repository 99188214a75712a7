/**
 * OSV records (ossf/osv-schema, docs/schema.md): bounded parsing, validation, and the
 * "is this package version affected" question.
 *
 * Input is untrusted (a feed, an upload): a record over 1 MiB is refused before it is
 * parsed, and every array and string has a cap far above what real records use, so one
 * hostile record cannot make the importer or the matcher do unbounded work. Validation
 * enforces what the schema requires (id, modified, one event type per event, an
 * `introduced` in every range, not both `fixed` and `last_affected`, `repo` on GIT ranges)
 * and ignores fields it does not know, as the schema allows. Unknown range types are kept
 * and skipped at evaluation, like GIT ranges.
 */

import { z } from 'zod';
import { ecosystemScope, normalizePackageName, scopeApplies } from './ecosystems.js';
import { type AffectsResult, compileAffected, evaluateAffected, mergeResults } from './ranges.js';
import { semver, versionOrdering } from '../versions/registry.js';

export const MAX_RECORD_BYTES = 1024 * 1024;
export const LIMITS = {
  ids: 1000,
  affected: 2000,
  ranges: 100,
  events: 1000,
  versions: 20_000,
  severity: 20,
  references: 2000,
  credits: 200,
  shortString: 256,
  name: 1024,
  url: 4096,
  summary: 16 * 1024,
} as const;

const short = z.string().max(LIMITS.shortString);
const rfc3339 = z
  .string()
  .max(64)
  .regex(/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 timestamp');
const freeObject = z.record(z.string(), z.unknown());
const idList = z.array(short).max(LIMITS.ids);

const severitySchema = z.array(z.object({ type: short, score: z.string().max(512) })).max(LIMITS.severity);

const eventSchema = z
  .object({ introduced: short.optional(), fixed: short.optional(), last_affected: short.optional(), limit: short.optional() })
  .refine((e) => [e.introduced, e.fixed, e.last_affected, e.limit].filter((x) => x !== undefined).length === 1, {
    message: 'an event has exactly one of introduced, fixed, last_affected, limit',
  });

const rangeSchema = z
  .object({
    type: short,
    repo: z.string().max(LIMITS.url).optional(),
    events: z.array(eventSchema).min(1).max(LIMITS.events),
    database_specific: freeObject.optional(),
  })
  .superRefine((r, ctx) => {
    if (!r.events.some((e) => e.introduced !== undefined)) ctx.addIssue({ code: 'custom', message: 'a range needs an introduced event' });
    if (r.events.some((e) => e.fixed !== undefined) && r.events.some((e) => e.last_affected !== undefined))
      ctx.addIssue({ code: 'custom', message: 'a range has fixed or last_affected events, not both' });
    if (r.type === 'GIT' && !r.repo) ctx.addIssue({ code: 'custom', message: 'a GIT range needs repo' });
  });

const affectedSchema = z.object({
  package: z
    .object({ ecosystem: z.string().min(1).max(LIMITS.name), name: z.string().min(1).max(LIMITS.name), purl: z.string().max(LIMITS.url).optional() })
    .optional(),
  severity: severitySchema.optional(),
  ranges: z.array(rangeSchema).max(LIMITS.ranges).optional(),
  versions: z.array(short).max(LIMITS.versions).optional(),
  ecosystem_specific: freeObject.optional(),
  database_specific: freeObject.optional(),
});

export const osvSchema = z.object({
  schema_version: short.optional(),
  id: z.string().min(1).max(LIMITS.shortString),
  modified: rfc3339,
  published: rfc3339.optional(),
  withdrawn: rfc3339.optional(),
  aliases: idList.optional(),
  related: idList.optional(),
  upstream: idList.optional(),
  summary: z.string().max(LIMITS.summary).optional(),
  details: z.string().max(MAX_RECORD_BYTES).optional(),
  severity: severitySchema.optional(),
  affected: z.array(affectedSchema).max(LIMITS.affected).optional(),
  references: z
    .array(z.object({ type: short, url: z.string().max(LIMITS.url) }))
    .max(LIMITS.references)
    .optional(),
  credits: z
    .array(z.object({ name: z.string().max(LIMITS.name), contact: z.array(z.string().max(LIMITS.url)).max(20).optional(), type: short.optional() }))
    .max(LIMITS.credits)
    .optional(),
  database_specific: freeObject.optional(),
});

export type OsvAdvisory = z.infer<typeof osvSchema>;
export type OsvAffected = z.infer<typeof affectedSchema>;

export type ParseResult = { ok: true; advisory: OsvAdvisory } | { ok: false; error: string };

/** Parses one OSV record from JSON text or bytes, refusing oversized or invalid input. */
export function parseOsv(input: string | Uint8Array): ParseResult {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (bytes > MAX_RECORD_BYTES) return { ok: false, error: `record is ${bytes} bytes; the limit is ${MAX_RECORD_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  return validateOsv(json);
}

/** Validates an already-decoded record (e.g. one element of a bulk JSON array). */
export function validateOsv(json: unknown): ParseResult {
  const result = osvSchema.safeParse(json);
  if (result.success) return { ok: true, advisory: result.data };
  const issue = result.error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.join('.') : '(record)';
  return { ok: false, error: `${path}: ${issue.message}` };
}

/**
 * Whether `packageName` at `version` in `ecosystem` (which may carry a release, "Debian:12")
 * is affected, and the version that fixes it when the advisory says. A withdrawn advisory
 * affects nothing.
 */
export function affects(advisory: OsvAdvisory, ecosystem: string, packageName: string, version: string): AffectsResult {
  if (advisory.withdrawn !== undefined) return { affected: false };
  const scope = ecosystemScope(ecosystem);
  const name = normalizePackageName(scope.base, packageName);
  const results: AffectsResult[] = [];
  for (const a of advisory.affected ?? []) {
    if (!a.package) continue;
    const entryScope = ecosystemScope(a.package.ecosystem);
    if (!scopeApplies(entryScope, scope) || normalizePackageName(entryScope.base, a.package.name) !== name) continue;
    results.push(evaluateAffected(compileAffected(a.package.ecosystem, a), version));
  }
  return mergeResults(results, versionOrdering(ecosystem) ?? semver);
}
