/**
 * The OSV evaluation algorithm (schema.md, "Evaluation"), over `affected` entries compiled
 * once so that re-evaluating many inventories pays no parsing or sorting per question:
 *
 *   affected if v equals a string of `versions`, or for some range: v is before one of the
 *   range's limits (none means an implicit "*"), and walking the events sorted by the
 *   range's ordering, the last of these to fire was an `introduced`:
 *   introduced (v >= it), fixed (v >= it), last_affected (v > it).
 *
 * `introduced: "0"` sorts before every version; a `limit` containing "*" is infinity.
 * SEMVER ranges use SemVer precedence whatever the ecosystem; ECOSYSTEM ranges use the
 * ecosystem's ordering, and are skipped when we have none (only `versions` can then say
 * "affected"). GIT ranges need the commit graph and are skipped, as the spec allows.
 *
 * `fixedIn` is the first `fixed` event above v in an affected range; with several affected
 * ranges it is the greatest of them (upgrading past all), and absent if any affected range
 * has no fix (as with `last_affected` or an open-ended range).
 */

import { semver, versionOrdering, type VersionOrdering } from '../versions/registry.js';

export interface OsvEvent {
  introduced?: string | undefined;
  fixed?: string | undefined;
  last_affected?: string | undefined;
  limit?: string | undefined;
}

export interface OsvRangeInput {
  type: string;
  events: readonly OsvEvent[];
}

export type Kind = 'introduced' | 'fixed' | 'last_affected';

export interface CompiledEvent {
  kind: Kind;
  raw: string;
  /** Parsed version, or `undefined` for the special introduced "0" (below everything). */
  parsed: unknown;
}

export interface CompiledRange {
  ordering: VersionOrdering;
  events: CompiledEvent[];
  /** Parsed limits; empty means the implicit "*". `null` entries are "*" (infinity). */
  limits: unknown[];
}

export interface CompiledAffected {
  versions: ReadonlySet<string>;
  ranges: CompiledRange[];
  /** The ecosystem's ordering, used to pick among fixes; semver when it has none. */
  ordering: VersionOrdering;
}

export interface AffectsResult {
  affected: boolean;
  fixedIn?: string;
}

// Shared answers: most evaluations say "not affected", and allocating for each is measurable.
const NOT_AFFECTED: AffectsResult = Object.freeze({ affected: false });
const AFFECTED_UNFIXED: AffectsResult = Object.freeze({ affected: true });

/** Parses `version` once per ordering; callers that evaluate many entries share this. */
export type ParseVersion = (ordering: VersionOrdering, version: string) => unknown;

const parseDirect: ParseVersion = (o, v) => o.parse(v);

function eventKind(e: OsvEvent): { kind: Kind | 'limit'; value: string } | undefined {
  if (e.introduced !== undefined) return { kind: 'introduced', value: e.introduced };
  if (e.fixed !== undefined) return { kind: 'fixed', value: e.fixed };
  if (e.last_affected !== undefined) return { kind: 'last_affected', value: e.last_affected };
  if (e.limit !== undefined) return { kind: 'limit', value: e.limit };
  return undefined;
}

function compileRange(range: OsvRangeInput, ecosystemOrdering: VersionOrdering | undefined, parse: ParseVersion): CompiledRange | undefined {
  const ordering = range.type === 'SEMVER' ? semver : range.type === 'ECOSYSTEM' ? ecosystemOrdering : undefined;
  if (!ordering) return undefined;
  const events: CompiledEvent[] = [];
  const limits: unknown[] = [];
  for (const e of range.events) {
    const k = eventKind(e);
    if (!k) continue;
    if (k.kind === 'limit') limits.push(k.value.includes('*') ? null : parse(ordering, k.value));
    else events.push({ kind: k.kind, raw: k.value, parsed: k.kind === 'introduced' && k.value === '0' ? undefined : parse(ordering, k.value) });
  }
  // Array.prototype.sort is stable, so events at the same version keep the record's order.
  events.sort((a, b) => compareEventVersions(ordering, a.parsed, b.parsed));
  return { ordering, events, limits };
}

function compareEventVersions(o: VersionOrdering, a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return o.compareParsed(a, b);
}

/**
 * Compiles one `affected` entry. `parse` lets a caller share parsed event versions between
 * entries (a fix version recurs across many advisories), which keeps the working set small.
 */
export function compileAffected(
  ecosystem: string,
  entry: { versions?: readonly string[] | undefined; ranges?: readonly OsvRangeInput[] | undefined },
  parse: ParseVersion = parseDirect,
): CompiledAffected {
  const ecosystemOrdering = versionOrdering(ecosystem);
  const ranges: CompiledRange[] = [];
  for (const r of entry.ranges ?? []) {
    const c = compileRange(r, ecosystemOrdering, parse);
    if (c) ranges.push(c);
  }
  return { versions: new Set(entry.versions ?? []), ranges, ordering: ecosystemOrdering ?? semver };
}

/** The `fixed` version that closes v's window, `undefined` when unfixed, `null` when not affected. */
function evaluateRange(r: CompiledRange, v: unknown): string | undefined | null {
  const o = r.ordering;
  if (r.limits.length > 0 && !r.limits.some((l) => l === null || o.compareParsed(v, l) < 0)) return null;
  let vulnerable = false;
  let k = 0;
  for (; k < r.events.length; k++) {
    const e = r.events[k]!;
    // Events are sorted: once one sits above v, no later introduced/fixed can fire, and a
    // last_affected above v never fires either.
    if (e.parsed !== undefined && o.compareParsed(v, e.parsed) < 0) break;
    if (e.kind === 'introduced') vulnerable = true;
    else if (e.kind === 'fixed') vulnerable = false;
    else if (o.compareParsed(v, e.parsed) > 0) vulnerable = false;
  }
  if (!vulnerable) return null;
  for (; k < r.events.length; k++) if (r.events[k]!.kind === 'fixed') return r.events[k]!.raw;
  return undefined;
}

export function evaluateAffected(entry: CompiledAffected, version: string, parse: ParseVersion = parseDirect): AffectsResult {
  let affected = entry.versions.size > 0 && entry.versions.has(version);
  let fix: string | undefined;
  let unfixed = false;
  for (const r of entry.ranges) {
    const res = evaluateRange(r, parse(r.ordering, version));
    if (res === null) continue;
    affected = true;
    if (res === undefined) unfixed = true;
    else if (fix === undefined || entry.ordering.compare(res, fix) > 0) fix = res;
  }
  if (!affected) return NOT_AFFECTED;
  if (unfixed || fix === undefined) return AFFECTED_UNFIXED;
  return { affected: true, fixedIn: fix };
}

/** Combines the results of several affected entries that name the same package. */
export function mergeResults(results: readonly AffectsResult[], ordering: VersionOrdering): AffectsResult {
  if (results.length === 1) return results[0]!;
  let fix: string | undefined;
  let any = false;
  for (const r of results) {
    if (!r.affected) continue;
    if (r.fixedIn === undefined) return AFFECTED_UNFIXED;
    any = true;
    if (fix === undefined || ordering.compare(r.fixedIn, fix) > 0) fix = r.fixedIn;
  }
  return any ? { affected: true, fixedIn: fix! } : NOT_AFFECTED;
}
