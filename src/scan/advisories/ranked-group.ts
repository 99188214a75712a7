/**
 * The advisory index's fast path: all affected entries filed under one package, compiled
 * so that a version is placed once by binary search and each entry then answers with a few
 * integer comparisons.
 *
 * Every event and limit version of the group's ranges becomes a "point" (sorted, distinct
 * under the ordering). A version v gets a rank: 2i+1 when it equals point i, 2i when it
 * falls between points i-1 and i (2n above all n points). The OSV evaluation of a range
 * (ranges.ts) depends on v only through its comparisons with the range's events, so it is a
 * function of the rank; we sweep the sorted events once to turn that function into the
 * rank intervals where the range says "affected", each with the fix that closes it.
 *
 * The result is the same as evaluating each entry with `evaluateAffected`; the tests check
 * both agree on random data for every ordering.
 */

import type { VersionOrdering } from '../versions/registry.js';
import type { AffectsResult, CompiledAffected, CompiledEvent, ParseVersion } from './ranges.js';

interface Lane {
  ordering: VersionOrdering;
  points: unknown[];
}

interface Sweep {
  /** Affected rank intervals [starts[k], ends[k]). */
  starts: number[];
  ends: number[];
  /** The closing fix of each interval: its raw string and rank, or undefined / -1 when unfixed. */
  fixRaw: Array<string | undefined>;
  fixRank: number[];
}

function rankOf(lane: Lane, v: unknown): number {
  const { ordering, points } = lane;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ordering.compareParsed(points[mid], v) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo < points.length && ordering.compareParsed(points[lo], v) === 0 ? 2 * lo + 1 : 2 * lo;
}

function sweep(events: readonly CompiledEvent[], eventRank: (e: CompiledEvent) => number, limitRank: number, total: number): Sweep {
  const out: Sweep = { starts: [], ends: [], fixRaw: [], fixRank: [] };
  // nextFix[k]: the first fixed event at or after index k.
  const nextFix = new Array<number>(events.length + 1).fill(-1);
  for (let k = events.length - 1; k >= 0; k--) nextFix[k] = events[k]!.kind === 'fixed' ? k : nextFix[k + 1]!;
  const emit = (start: number, end: number, affected: boolean, fixFrom: number) => {
    end = Math.min(end, limitRank);
    if (!affected || start >= end) return;
    const f = nextFix[fixFrom]!;
    const raw = f < 0 ? undefined : events[f]!.raw;
    const rank = f < 0 ? -1 : eventRank(events[f]!);
    const last = out.starts.length - 1;
    if (last >= 0 && out.ends[last] === start && out.fixRank[last] === rank) out.ends[last] = end;
    else {
      out.starts.push(start);
      out.ends.push(end);
      out.fixRaw.push(raw);
      out.fixRank.push(rank);
    }
  };
  let state = false;
  let k = 0;
  // introduced "0" sorts first and fires for every version.
  for (; k < events.length && events[k]!.parsed === undefined; k++) state = true;
  let cursor = 0;
  while (k < events.length) {
    const q = eventRank(events[k]!);
    emit(cursor, q, state, k);
    let atQ = state;
    let after: boolean = state;
    let j = k;
    for (; j < events.length && eventRank(events[j]!) === q; j++) {
      const kind = events[j]!.kind;
      if (kind === 'introduced') atQ = after = true;
      else if (kind === 'fixed') atQ = after = false;
      else after = false; // last_affected: v == it stays as is, v > it is not affected
    }
    emit(q, q + 1, atQ, j);
    state = after;
    cursor = q + 1;
    k = j;
  }
  emit(cursor, total, state, events.length);
  return out;
}

// Interval records in `RankedGroup.iv`: [entry, lane, start, end, fixRank, index into ivFix].
const STRIDE = 6;

export class RankedGroup<T> {
  private readonly lanes: Lane[] = [];
  private readonly items: T[] = [];
  private readonly orderings: VersionOrdering[] = [];
  /** Per entry: its explicit `versions`, or undefined when it lists none. */
  private readonly listed: Array<ReadonlySet<string> | undefined> = [];
  /**
   * Every affected interval of every range, grouped by entry, in one typed array: the
   * evaluation then reads a few contiguous cache lines instead of chasing objects.
   */
  private readonly iv: Int32Array;
  private readonly ivFix: Array<string | undefined> = [];

  constructor(items: ReadonlyArray<{ item: T; compiled: CompiledAffected }>) {
    const values: unknown[][] = [];
    const laneOf = (o: VersionOrdering): number => {
      let i = this.lanes.findIndex((l) => l.ordering === o);
      if (i < 0) {
        i = this.lanes.push({ ordering: o, points: [] }) - 1;
        values.push([]);
      }
      return i;
    };
    for (const { compiled } of items) {
      for (const r of compiled.ranges) {
        const vals = values[laneOf(r.ordering)]!;
        for (const e of r.events) if (e.parsed !== undefined) vals.push(e.parsed);
        for (const l of r.limits) if (l !== null) vals.push(l);
      }
    }
    this.lanes.forEach((lane, i) => {
      const sorted = values[i]!.sort((a, b) => lane.ordering.compareParsed(a, b));
      for (const v of sorted) {
        const last = lane.points[lane.points.length - 1];
        if (lane.points.length === 0 || lane.ordering.compareParsed(last, v) !== 0) lane.points.push(v);
      }
    });
    const records: number[] = [];
    items.forEach(({ item, compiled }, entry) => {
      this.items.push(item);
      this.orderings.push(compiled.ordering);
      this.listed.push(compiled.versions.size > 0 ? compiled.versions : undefined);
      for (const r of compiled.ranges) {
        const lane = laneOf(r.ordering);
        const l = this.lanes[lane]!;
        const total = 2 * l.points.length + 1;
        const eventRank = (e: CompiledEvent) => rankOf(l, e.parsed);
        const limitRank = r.limits.length === 0 || r.limits.includes(null) ? total : Math.max(...r.limits.map((x) => rankOf(l, x)));
        const sw = sweep(r.events, eventRank, limitRank, total);
        for (let k = 0; k < sw.starts.length; k++) {
          records.push(entry, lane, sw.starts[k]!, sw.ends[k]!, sw.fixRank[k]!, this.ivFix.length);
          this.ivFix.push(sw.fixRaw[k]);
        }
      }
    });
    this.iv = Int32Array.from(records);
  }

  /** Calls `hit` for each entry that `version` is affected by. */
  evaluate(version: string, parse: ParseVersion, hit: (item: T, result: AffectsResult, ordering: VersionOrdering) => void): void {
    const lanes = this.lanes;
    const rank0 = lanes.length > 0 ? rankOf(lanes[0]!, parse(lanes[0]!.ordering, version)) : 0;
    const ranks = lanes.length > 1 ? lanes.map((l) => rankOf(l, parse(l.ordering, version))) : undefined;
    const iv = this.iv;
    const n = iv.length;
    let p = 0;
    for (let e = 0; e < this.items.length; e++) {
      const listed = this.listed[e];
      let affected = listed?.has(version) === true;
      let unfixed = false;
      let fixRaw: string | undefined;
      let fixRank = -1;
      let fixLane = -1;
      for (; p < n && iv[p] === e; p += STRIDE) {
        const lane = iv[p + 1]!;
        const rank = ranks === undefined ? rank0 : ranks[lane]!;
        if (rank < iv[p + 2]! || rank >= iv[p + 3]!) continue;
        affected = true;
        const raw = this.ivFix[iv[p + 5]!];
        if (raw === undefined) unfixed = true;
        else if (fixRaw === undefined || (fixLane === lane ? iv[p + 4]! > fixRank : this.orderings[e]!.compare(raw, fixRaw) > 0)) {
          fixRaw = raw;
          fixRank = iv[p + 4]!;
          fixLane = lane;
        }
      }
      if (affected) hit(this.items[e]!, unfixed || fixRaw === undefined ? AFFECTED_UNFIXED : { affected: true, fixedIn: fixRaw }, this.orderings[e]!);
    }
  }
}

const AFFECTED_UNFIXED: AffectsResult = Object.freeze({ affected: true });
