/**
 * An in-memory index of OSV advisories that answers "which advisories affect this image's
 * packages" for many inventories in a row, e.g. re-evaluating every stored inventory after
 * an advisory import.
 *
 * Advisories are compiled when added (events parsed and sorted once per range, severity and
 * reference URI computed once) and filed under (ecosystem base, normalized release, normalized
 * package name). Debian advisories are per release ("Debian:12"): an OS package is looked up
 * under its image's release and under "no release" (entries that apply to all releases), so
 * it only meets its own release's advisories (see ecosystems.ts) and never walks the others'.
 *
 * Speed comes from compact data and sharing. The entries of one package are compiled into a
 * RankedGroup (one binary search per version, then integer comparisons); event versions are
 * parsed once per distinct string and shared between entries (fix versions recur across
 * advisories); and each inventory (ecosystem, package name) resolves once to a slot holding
 * its groups and the answers for the versions seen so far, until the index changes, since
 * images built on the same base repeat the same packages. Every cache is bounded and simply
 * starts over when full.
 *
 * OS packages may name their source package (Debian, Ubuntu and Alpine advisories are filed
 * by source package): both names are looked up and an advisory is reported once.
 */

import { type EcosystemScope, ecosystemScope, normalizePackageName } from './ecosystems.js';
import type { OsvAdvisory } from './osv.js';
import { type AffectsResult, type CompiledAffected, type ParseVersion, compileAffected, mergeResults } from './ranges.js';
import { RankedGroup } from './ranked-group.js';
import type { VersionOrdering } from '../versions/registry.js';
import { type EcrSeverity, type FindingCvss, type SeverityResult, advisorySeverity } from './severity.js';

export interface InventoryPackage {
  /** OSV ecosystem, with the distribution release for OS packages ("Debian:12"). */
  ecosystem: string;
  name: string;
  version: string;
  /** The source package an OS package was built from, when it differs. */
  sourceName?: string;
  /** The source package's version, when it differs (Debian binNMUs). */
  sourceVersion?: string;
}

export interface Finding {
  advisoryId: string;
  /** Shared by every finding of the advisory, and frozen: copy before changing. */
  aliases: string[];
  ecosystem: string;
  package: string;
  version: string;
  fixedIn?: string;
  severity: EcrSeverity;
  cvss?: FindingCvss;
  summary: string;
  uri: string;
}

interface StoredAdvisory {
  id: string;
  modified: number;
  aliases: string[];
  summary: string;
  uri: string;
  keys: string[];
}

interface Entry {
  advisory: StoredAdvisory;
  compiled: CompiledAffected;
  severity: SeverityResult;
}

/** One advisory's verdict for one (package, version): what a finding is built from. */
interface Hit {
  advisory: StoredAdvisory;
  result: AffectsResult;
  severity: SeverityResult;
  ordering: VersionOrdering;
}

const NO_HITS: readonly Hit[] = Object.freeze([]);
const ANSWERS_PER_PACKAGE = 16;

// Each branch builds one object literal, so every finding of a kind shares a hidden class
// (adding optional properties afterwards would fan out shapes and slow every consumer).
function toFinding(pkg: InventoryPackage, h: Hit): Finding {
  const { advisory: a, severity: s } = h;
  const fixedIn = h.result.fixedIn;
  const id = a.id;
  const eco = pkg.ecosystem;
  if (fixedIn !== undefined) {
    return s.cvss
      ? {
          advisoryId: id,
          aliases: a.aliases,
          ecosystem: eco,
          package: pkg.name,
          version: pkg.version,
          fixedIn,
          severity: s.severity,
          cvss: s.cvss,
          summary: a.summary,
          uri: a.uri,
        }
      : {
          advisoryId: id,
          aliases: a.aliases,
          ecosystem: eco,
          package: pkg.name,
          version: pkg.version,
          fixedIn,
          severity: s.severity,
          summary: a.summary,
          uri: a.uri,
        };
  }
  return s.cvss
    ? {
        advisoryId: id,
        aliases: a.aliases,
        ecosystem: eco,
        package: pkg.name,
        version: pkg.version,
        severity: s.severity,
        cvss: s.cvss,
        summary: a.summary,
        uri: a.uri,
      }
    : { advisoryId: id, aliases: a.aliases, ecosystem: eco, package: pkg.name, version: pkg.version, severity: s.severity, summary: a.summary, uri: a.uri };
}

/** Joins the hits of a binary package and of its source package, one per advisory. */
function combine(a: readonly Hit[], b: readonly Hit[]): readonly Hit[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = [...a];
  for (const h of b) {
    const i = out.findIndex((x) => x.advisory === h.advisory);
    if (i < 0) out.push(h);
    else out[i] = { ...out[i]!, result: mergeResults([out[i]!.result, h.result], h.ordering) };
  }
  return out;
}

function freezeSeverity(s: SeverityResult): SeverityResult {
  if (s.cvss) Object.freeze(s.cvss);
  return Object.freeze(s);
}

const SUMMARY_MAX = 512;

function summaryOf(a: OsvAdvisory): string {
  const text = a.summary ?? a.details?.split('\n', 1)[0] ?? '';
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}

function uriOf(a: OsvAdvisory): string {
  const refs = a.references ?? [];
  const ref = refs.find((r) => r.type === 'ADVISORY') ?? refs.find((r) => r.type === 'WEB');
  return ref?.url ?? `https://osv.dev/vulnerability/${encodeURIComponent(a.id)}`;
}

/** What an inventory (ecosystem, name) resolves to, valid for one index generation. */
interface Slot {
  gen: number;
  groups: ReadonlyArray<RankedGroup<Entry>>;
  /** version -> hits. */
  answers: Map<string, readonly Hit[]>;
}

interface ScopeSlots {
  scope: EcosystemScope;
  slots: Map<string, Slot>;
}

export class AdvisoryIndex {
  private readonly byKey = new Map<string, Entry[]>();
  private readonly byId = new Map<string, StoredAdvisory>();
  /** Per-key evaluators, built on first use and dropped when the key's entries change. */
  private readonly groups = new Map<string, RankedGroup<Entry>>();
  /** ecosystem string -> its scope and the slots of the names seen under it. */
  private readonly scopes = new Map<string, ScopeSlots>();
  /** Bumped by every change: slots of an older generation are resolved again. */
  private gen = 0;
  private slotCount = 0;
  /** Inventory versions, parsed: repeated across inventories. */
  private readonly parsed = new Map<string, unknown>();
  /** Event versions, parsed once and shared by every entry that names them. */
  private readonly interned = new Map<string, unknown>();
  private readonly maxParsed: number;
  private readonly maxSlots: number;

  constructor(opts: { parseCacheSize?: number; slotCacheSize?: number } = {}) {
    this.maxParsed = opts.parseCacheSize ?? 200_000;
    this.maxSlots = opts.slotCacheSize ?? 200_000;
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * Stores an advisory, replacing an older record with the same id. Returns false when the
   * stored record is newer (OSV: the later `modified` is authoritative) or when the record
   * is withdrawn, in which case any stored copy is removed.
   */
  add(advisory: OsvAdvisory): boolean {
    const modified = Date.parse(advisory.modified);
    const existing = this.byId.get(advisory.id);
    if (existing && existing.modified > modified) return false;
    if (existing) this.remove(advisory.id);
    if (advisory.withdrawn !== undefined) return false;
    this.gen++;
    const stored: StoredAdvisory = {
      id: advisory.id,
      modified,
      // Findings share these: frozen so one caller cannot change another's.
      aliases: Object.freeze([...(advisory.aliases ?? [])]) as string[],
      summary: summaryOf(advisory),
      uri: uriOf(advisory),
      keys: [],
    };
    for (const a of advisory.affected ?? []) {
      if (!a.package) continue;
      const scope = ecosystemScope(a.package.ecosystem);
      const key = entryKey(scope.base, scope.release, normalizePackageName(scope.base, a.package.name));
      const entry: Entry = {
        advisory: stored,
        compiled: compileAffected(a.package.ecosystem, a, this.intern),
        severity: freezeSeverity(advisorySeverity(advisory, a, scope.base)),
      };
      const list = this.byKey.get(key);
      this.groups.delete(key);
      if (list) list.push(entry);
      else this.byKey.set(key, [entry]);
      if (!stored.keys.includes(key)) stored.keys.push(key);
    }
    this.byId.set(stored.id, stored);
    return true;
  }

  remove(id: string): boolean {
    const stored = this.byId.get(id);
    if (!stored) return false;
    for (const key of stored.keys) {
      this.groups.delete(key);
      const kept = this.byKey.get(key)!.filter((e) => e.advisory !== stored);
      if (kept.length > 0) this.byKey.set(key, kept);
      else this.byKey.delete(key);
    }
    this.byId.delete(id);
    this.gen++;
    return true;
  }

  /** The findings for one image's packages, one per (package, advisory). */
  match(inventory: readonly InventoryPackage[]): Finding[] {
    const findings: Finding[] = [];
    for (const pkg of inventory) {
      let hits = this.hitsFor(pkg.ecosystem, pkg.name, pkg.version);
      if (pkg.sourceName !== undefined && pkg.sourceName !== pkg.name)
        hits = combine(hits, this.hitsFor(pkg.ecosystem, pkg.sourceName, pkg.sourceVersion ?? pkg.version));
      else if (pkg.sourceVersion !== undefined && pkg.sourceVersion !== pkg.version)
        hits = combine(hits, this.hitsFor(pkg.ecosystem, pkg.name, pkg.sourceVersion));
      for (const h of hits) findings.push(toFinding(pkg, h));
    }
    return findings;
  }

  private hitsFor(ecosystem: string, name: string, version: string): readonly Hit[] {
    const slot = this.slot(ecosystem, name);
    if (slot.groups.length === 0) return NO_HITS;
    const known = slot.answers.get(version);
    if (known) return known;
    const hits: Hit[] = [];
    const add = (e: Entry, r: AffectsResult, ordering: VersionOrdering) => {
      const i = hits.findIndex((x) => x.advisory === e.advisory);
      const h: Hit = { advisory: e.advisory, result: r, severity: e.severity, ordering };
      if (i < 0) hits.push(h);
      else hits[i] = { ...h, result: mergeResults([hits[i]!.result, r], ordering) };
    };
    for (const g of slot.groups) g.evaluate(version, this.parse, add);
    // A package seen at many versions is not one images share: remembering its answers would
    // only churn memory, so each package keeps a few.
    if (slot.answers.size < ANSWERS_PER_PACKAGE) slot.answers.set(version, hits);
    return hits;
  }

  private slot(ecosystem: string, name: string): Slot {
    let bucket = this.scopes.get(ecosystem);
    if (!bucket) {
      // Inventories use a handful of ecosystem strings; the bound only guards odd input.
      if (this.scopes.size >= 10_000) this.forgetAnswers();
      bucket = { scope: ecosystemScope(ecosystem), slots: new Map() };
      this.scopes.set(ecosystem, bucket);
    }
    let slot = bucket.slots.get(name);
    if (slot && slot.gen === this.gen) return slot;
    const { scope } = bucket;
    const norm = normalizePackageName(scope.base, name);
    const groups: Array<RankedGroup<Entry>> = [];
    if (scope.release !== '') {
      const g = this.group(entryKey(scope.base, scope.release, norm));
      if (g) groups.push(g);
    }
    const g = this.group(entryKey(scope.base, '', norm));
    if (g) groups.push(g);
    if (!slot && ++this.slotCount > this.maxSlots) {
      this.forgetAnswers();
      return this.slot(ecosystem, name);
    }
    slot = { gen: this.gen, groups, answers: new Map() };
    bucket.slots.set(name, slot);
    return slot;
  }

  private forgetAnswers(): void {
    this.scopes.clear();
    this.slotCount = 0;
  }

  private group(key: string): RankedGroup<Entry> | undefined {
    let g = this.groups.get(key);
    if (g) return g;
    const entries = this.byKey.get(key);
    if (!entries) return undefined;
    g = new RankedGroup(entries.map((e) => ({ item: e, compiled: e.compiled })));
    this.groups.set(key, g);
    return g;
  }

  private readonly parse: ParseVersion = (ordering, version) => {
    const key = `${ordering.name}\u0000${version}`;
    let p = this.parsed.get(key);
    if (p === undefined) {
      p = ordering.parse(version);
      if (this.parsed.size >= this.maxParsed) this.parsed.clear();
      this.parsed.set(key, p);
    }
    return p;
  };

  private readonly intern: ParseVersion = (ordering, version) => {
    const key = `${ordering.name}\u0000${version}`;
    let p = this.interned.get(key);
    if (p === undefined) {
      p = ordering.parse(version);
      // Entries keep their own references, so starting over only loses sharing.
      if (this.interned.size >= 1_000_000) this.interned.clear();
      this.interned.set(key, p);
    }
    return p;
  };
}

function entryKey(base: string, release: string, name: string): string {
  return `${base}\u0000${release}\u0000${name}`;
}
