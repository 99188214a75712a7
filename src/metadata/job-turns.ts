/**
 * How a claim shares the job queue between accounts, on every engine: accounts take turns, so
 * one account's backlog (thousands of scan-on-push images, a replication fan-out) delays another
 * account's job by a claim or two instead of by the whole backlog. Each account with due work
 * gets its oldest job, the account whose last claim is oldest first (a counter every claim counts
 * up, not the clock: two claims in one millisecond still take turns), then each its second, and
 * so on. Both engines apply it here (takeTurns), over rows read through TurnFill, so a claim's
 * reads stay bounded whatever the number of accounts with deep queues; PostgreSQL then locks the
 * rows it picked in one statement (postgres/jobs.ts). The event outbox is claimed by the same
 * rule (sqlite/events.ts, postgres/events.ts).
 */
import type { AccountShare } from './types.js';

/** The name the event outbox's turns are kept under in job_turns, beside the job kinds' (no job kind has it). */
export const OUTBOX_TURNS = 'event-outbox';

/** One account's due jobs of one kind, oldest first, and the account's last turn (0: never). */
export interface AccountQueue<J extends { run_after: number; id: number }> {
  turn: number;
  due: J[];
}

/** Up to `limit` jobs, one account at a time in turn order, round after round. */
export function takeTurns<J extends { run_after: number; id: number }>(queues: AccountQueue<J>[], limit: number): J[] {
  const order = queues
    .filter((q) => q.due.length > 0)
    .sort((a, b) => a.turn - b.turn || a.due[0]!.run_after - b.due[0]!.run_after || a.due[0]!.id - b.due[0]!.id);
  const out: J[] = [];
  for (let round = 0; out.length < limit; round++) {
    const before = out.length;
    for (const q of order) {
      const job = q.due[round];
      if (job === undefined) continue;
      out.push(job);
      if (out.length >= limit) break;
    }
    if (out.length === before) break;
  }
  return out;
}

/** How many more of `account`'s jobs a claimer may take under its share (unbounded without one). */
export function roomOf(share: AccountShare | undefined, account: string): number {
  if (!share) return Number.MAX_SAFE_INTEGER;
  return Math.max(0, share.perAccount - (share.held.get(account) ?? 0));
}

/** A read a pass of a fill asks for: `n` more of an account's rows, after `after` (none yet: undefined). */
export interface FillRead<A, J> {
  account: A;
  after: J | undefined;
  n: number;
}

interface FillQueue<A, J> {
  account: A;
  turn: number;
  due: J[];
  cap: number;
  /** Its last read came back whole: it may have more rows. */
  more: boolean;
}

/**
 * The rows a claim of `target` takes in turns, read in passes so that many accounts each with a
 * deep queue cost O(target + accounts) rows, not target × accounts. A pass reads
 * ceil(still needed / accounts that may have more) rows (at least 1) from each account that may
 * have more, so every such account has been read to the same depth D and every other one to its
 * end (or its cap): rounds 0..D-1 are complete. The passes stop once those rounds hold `target`
 * rows, or no account may have more; either way the first `target` of them in turn order are
 * exactly what takeTurns would pick from every account's whole queue. Rows a pass reads that do
 * not fill the batch are all taken, so every pass but the last reads fewer than `target` rows in
 * all; the last reads at most what is still needed plus one per account; and an account is read
 * empty once at most.
 */
export class TurnFill<A, J extends { run_after: number; id: number }> {
  private readonly queues: FillQueue<A, J>[];
  private pending: Array<{ q: FillQueue<A, J>; n: number }> = [];
  /** Rows the fill has been given (its caller's first pass included): what the claim read, for tests. */
  rowsRead = 0;

  /**
   * `accounts`: each with rows (or not: it costs one read), its last turn and a cap on its rows
   * (a share's room; the target when absent). `first`, when the caller read a first pass itself
   * (PostgreSQL, in the statement that lists the accounts): the per-account count it asked for,
   * each account's rows then given as `due`.
   */
  constructor(
    accounts: Array<{ account: A; turn: number; cap?: number; due?: J[] }>,
    private readonly target: number,
    first?: number,
  ) {
    this.queues = accounts.map((a) => {
      const cap = Math.min(a.cap ?? target, target);
      const due = (a.due ?? []).slice(0, cap);
      this.rowsRead += a.due?.length ?? 0;
      return { account: a.account, turn: a.turn, due, cap, more: first === undefined || ((a.due?.length ?? 0) >= first && due.length < cap) };
    });
  }

  /** The reads of the next pass; none once the batch is decided. */
  pass(): FillRead<A, J>[] {
    const open = this.queues.filter((q) => q.more && q.due.length < q.cap);
    const have = this.queues.reduce((n, q) => n + q.due.length, 0);
    if (open.length === 0 || have >= this.target) {
      this.pending = [];
      return [];
    }
    const per = Math.max(1, Math.ceil((this.target - have) / open.length));
    this.pending = open.map((q) => ({ q, n: Math.min(per, q.cap - q.due.length) }));
    return this.pending.map(({ q, n }) => ({ account: q.account, after: q.due.at(-1), n }));
  }

  /** The rows the last pass's reads returned, in the order pass() gave them. */
  add(rows: J[][]): void {
    this.pending.forEach(({ q, n }, i) => {
      const got = rows[i] ?? [];
      this.rowsRead += got.length;
      q.due.push(...got);
      if (got.length < n) q.more = false;
    });
    this.pending = [];
  }

  /** The batch: up to `target` rows in turn order. */
  take(): J[] {
    return takeTurns(this.queues, this.target);
  }
}

/** Runs a fill's passes with a synchronous read (SQLite, inside its transaction); the batch. */
export function fillTurns<A, J extends { run_after: number; id: number }>(fill: TurnFill<A, J>, read: (reads: FillRead<A, J>[]) => J[][]): J[] {
  for (let reads = fill.pass(); reads.length > 0; reads = fill.pass()) fill.add(read(reads));
  return fill.take();
}

/** Runs a fill's passes with an asynchronous read (PostgreSQL); the batch. */
export async function fillTurnsAsync<A, J extends { run_after: number; id: number }>(
  fill: TurnFill<A, J>,
  read: (reads: FillRead<A, J>[]) => Promise<J[][]>,
): Promise<J[]> {
  for (let reads = fill.pass(); reads.length > 0; reads = fill.pass()) fill.add(await read(reads));
  return fill.take();
}
