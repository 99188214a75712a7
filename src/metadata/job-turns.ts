/**
 * How a claim shares the job queue between accounts, on every engine: accounts take turns, so
 * one account's backlog (thousands of scan-on-push images, a replication fan-out) delays another
 * account's job by a claim or two instead of by the whole backlog. Each account with due work
 * gets its oldest job, the account whose last claim is oldest first (a counter every claim counts
 * up, not the clock: two claims in one millisecond still take turns), then each its second, and
 * so on. SQLite applies it here; PostgreSQL in the claim statement itself (postgres/jobs.ts).
 * The event outbox is claimed by the same rule (sqlite/events.ts, postgres/events.ts).
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
