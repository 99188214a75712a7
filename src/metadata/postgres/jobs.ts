/**
 * The job queue and leases on PostgreSQL (the twins of ../sqlite/jobs.ts and leases.ts). Both
 * are single statements, atomic on their own, that several nodes may run at once:
 *
 *  - a claim picks due, unlocked jobs with FOR UPDATE SKIP LOCKED, so two workers never take
 *    the same job and never wait for each other's jobs (each skips what the other is taking); a
 *    row another claimer updated after our snapshot is re-checked on its latest version and
 *    dropped. Accounts take turns (../job-turns.ts): a first statement walks the accounts with
 *    jobs of each kind (one index probe each) and reads each one's oldest due jobs, as many as a
 *    fair share of the candidates wanted; further passes read more only when that fell short
 *    (TurnFill), so the reads stay bounded however many accounts have deep queues. The claim
 *    itself is one statement over those candidates in turn order, which locks SKIP LOCKED and
 *    re-checks them, and records the accounts it served in job_turns. The reads before it lock
 *    nothing and decide nothing on their own: a candidate another node took meanwhile is
 *    re-checked and skipped, as a row locked under a racing claim always was. Two claims serving
 *    the same account meet on its job_turns row, for the moment of an upsert: rows are upserted
 *    in key order, so they cannot deadlock;
 *  - a lease is an INSERT ... ON CONFLICT DO UPDATE whose WHERE lets the update through only for
 *    the same holder or an expired lease; the conflict path locks the row, so of two nodes
 *    racing for an expired lease exactly one gets it.
 */
import { fillTurnsAsync, roomOf, TurnFill } from '../job-turns.js';
import type { AccountShare, JobRecord, JobRequest, JobStore, LeaseStore } from '../types.js';
import { one, rows, type PgContext, type Queryable } from './pool.js';

interface Row {
  id: number;
  kind: string;
  account_id: string;
  payload: string;
  attempts: number;
  last_error: string | null;
}

/** Enqueues inside the caller's transaction (the outbox: a job commits with its cause). */
export async function enqueueIn(tx: Queryable, jobs: JobRequest[], now: number): Promise<void> {
  if (jobs.length === 0) return;
  await tx.query(
    `INSERT INTO jobs (kind, payload, run_after, created_at, account_id)
     SELECT k, p, r, $4, a FROM unnest($1::text[], $2::text[], $3::bigint[], $5::text[]) WITH ORDINALITY AS j(k, p, r, a, n) ORDER BY n`,
    [jobs.map((j) => j.kind), jobs.map((j) => JSON.stringify(j.payload)), jobs.map((j) => j.runAfter?.getTime() ?? now), now, jobs.map((j) => j.account ?? '')],
  );
}

/**
 * A claim's first statement ($1 kinds in order, $2 now, $3 candidates wanted): the accounts with
 * jobs of each kind (one index probe each) with their last turns, and each one's oldest due jobs,
 * ceil($3 / accounts of the kind) of them (at least 1): the first pass of a TurnFill
 * (../job-turns.ts), `per` saying how many it asked for. Exported for bench/job-claims.ts's plan.
 */
export const FIRST_SQL = `
WITH RECURSIVE
  kinds AS (SELECT kind FROM unnest($1::text[]) AS k(kind)),
  accounts(kind, account_id) AS (
    SELECT kind, (SELECT min(account_id) FROM jobs j WHERE j.kind = kinds.kind) FROM kinds
    UNION ALL
    SELECT a.kind, (SELECT min(account_id) FROM jobs j WHERE j.kind = a.kind AND j.account_id > a.account_id)
    FROM accounts a WHERE a.account_id IS NOT NULL),
  listed AS (
    SELECT a.kind, a.account_id, coalesce(t.turn, 0) AS turn FROM accounts a
    LEFT JOIN job_turns t ON t.kind = a.kind AND t.account_id = a.account_id
    WHERE a.account_id IS NOT NULL),
  per AS (SELECT kind, greatest(1, ceil($3::numeric / count(*)))::int AS n FROM listed GROUP BY kind)
SELECT l.kind, l.account_id, l.turn, p.n AS per, d.id, d.run_after
FROM listed l JOIN per p ON p.kind = l.kind
CROSS JOIN LATERAL (
  SELECT j.id, j.run_after FROM jobs j
  WHERE j.kind = l.kind AND j.account_id = l.account_id AND j.run_after <= $2 AND (j.locked_until IS NULL OR j.locked_until < $2)
  ORDER BY j.run_after, j.id LIMIT p.n) d`;

/** A later pass: each (kind, account)'s next $5[i] due jobs after ($3[i], $4[i]); $6 now. */
export const PASS_SQL = `
SELECT s.ord::int, d.id, d.run_after
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[]) WITH ORDINALITY AS s(kind, account_id, run_after, id, n, ord)
CROSS JOIN LATERAL (
  SELECT j.id, j.run_after FROM jobs j
  WHERE j.kind = s.kind AND j.account_id = s.account_id AND (j.run_after, j.id) > (s.run_after, s.id)
    AND j.run_after <= $6 AND (j.locked_until IS NULL OR j.locked_until < $6)
  ORDER BY j.run_after, j.id LIMIT s.n) d`;

/**
 * The claim proper ($1 the candidates in turn order, $2 now, $3 holder, $4 lock end, $5 limit):
 * the first $5 candidates still due and unlocked, locked SKIP LOCKED in that order, leased, and
 * the accounts served recorded in job_turns (in key order: two claims cannot deadlock there).
 * The due and unlocked test is made here, where the rows are locked: only here is it re-checked
 * on a row another claim changed since the candidates were read. Exported for the bench's plan.
 */
export const LOCK_SQL = `
WITH
  candidates AS (SELECT id, ord FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, ord)),
  picked AS (
    SELECT jobs.id, c.ord FROM candidates c JOIN jobs ON jobs.id = c.id
    WHERE jobs.run_after <= $2 AND (jobs.locked_until IS NULL OR jobs.locked_until < $2)
    ORDER BY c.ord LIMIT $5
    FOR UPDATE OF jobs SKIP LOCKED),
  claimed AS (
    UPDATE jobs SET locked_by = $3, locked_until = $4, attempts = jobs.attempts + 1
    FROM picked WHERE jobs.id = picked.id
    RETURNING jobs.id, jobs.kind, jobs.account_id, jobs.payload, jobs.attempts, jobs.last_error, picked.ord),
  next_turn AS (SELECT coalesce((SELECT max(turn) FROM job_turns), 0) + 1 AS turn),
  turns AS (
    INSERT INTO job_turns (kind, account_id, turn)
    SELECT DISTINCT c.kind, c.account_id, n.turn FROM claimed c CROSS JOIN next_turn n ORDER BY c.kind, c.account_id
    ON CONFLICT (kind, account_id) DO UPDATE SET turn = greatest(job_turns.turn, excluded.turn))
SELECT id, kind, account_id, payload, attempts, last_error, ord::int FROM claimed`;

interface Candidate {
  id: number;
  run_after: number;
}

/**
 * The candidates of a claim in turn order, kind after kind: up to `wanted`, read in passes
 * (TurnFill) so that their reads stay bounded however many accounts have deep queues.
 */
async function candidates(pool: Queryable, kinds: string[], now: number, wanted: number, share: AccountShare | undefined): Promise<Candidate[]> {
  const first = await rows<{ kind: string; account_id: string; turn: string; per: number; id: string; run_after: string }>(pool, FIRST_SQL, [
    kinds,
    now,
    wanted,
  ]);
  const out: Candidate[] = [];
  for (const kind of kinds) {
    if (out.length >= wanted) break;
    const accounts = new Map<string, { account: string; turn: number; cap: number; due: Candidate[] }>();
    let per = 0;
    for (const r of first.filter((f) => f.kind === kind)) {
      per = r.per;
      const a = accounts.get(r.account_id) ?? { account: r.account_id, turn: Number(r.turn), cap: roomOf(share, r.account_id), due: [] };
      a.due.push({ id: Number(r.id), run_after: Number(r.run_after) });
      accounts.set(r.account_id, a);
    }
    const fill = new TurnFill<string, Candidate>([...accounts.values()], wanted - out.length, per);
    out.push(
      ...(await fillTurnsAsync(fill, async (reads) => {
        const got = await rows<{ ord: number; id: string; run_after: string }>(pool, PASS_SQL, [
          reads.map(() => kind),
          reads.map((r) => r.account),
          reads.map((r) => r.after!.run_after),
          reads.map((r) => r.after!.id),
          reads.map((r) => r.n),
          now,
        ]);
        const byRead = reads.map((): Candidate[] => []);
        for (const g of got) byRead[g.ord - 1]!.push({ id: Number(g.id), run_after: Number(g.run_after) });
        return byRead;
      })),
    );
  }
  return out;
}

export function createPostgresJobs({ pool }: PgContext): JobStore {
  return {
    async enqueue(jobs, now) {
      await enqueueIn(pool, jobs, now.getTime());
    },
    async claim(kinds, holder, leaseMs, limit, now, share) {
      if (kinds.length === 0 || limit <= 0) return [];
      const t = now.getTime();
      // Candidates: a few claims' worth, so that a claim racing another (which skips the rows
      // the other is taking) still finds some jobs to take.
      const picked = await candidates(pool, kinds, t, limit * 4, share);
      if (picked.length === 0) return [];
      const claimed = await rows<Row & { ord: number }>(pool, LOCK_SQL, [picked.map((c) => c.id), t, holder, t + leaseMs, limit]);
      // RETURNING has no order: the candidates', as SQLite returns them.
      claimed.sort((a, b) => a.ord - b.ord);
      return claimed.map(
        (r): JobRecord => ({
          id: r.id,
          kind: r.kind,
          account: r.account_id,
          payload: JSON.parse(r.payload) as unknown,
          attempts: r.attempts,
          ...(r.last_error !== null && { lastError: r.last_error }),
        }),
      );
    },
    async renew(id, holder, attempts, leaseMs, now) {
      // A claim racing this one row-locks it first or after: the claim re-checks the renewed
      // lock and drops the job, or this WHERE re-reads the claim's holder and attempts and fails.
      const r = await pool.query('UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND attempts = $4', [
        now.getTime() + leaseMs,
        id,
        holder,
        attempts,
      ]);
      return (r.rowCount ?? 0) > 0;
    },
    async complete(id, holder) {
      await pool.query('DELETE FROM jobs WHERE id = $1 AND locked_by = $2', [id, holder]);
    },
    async fail(id, holder, error, retryAt) {
      if (retryAt === undefined) await pool.query('DELETE FROM jobs WHERE id = $1 AND locked_by = $2', [id, holder]);
      else {
        await pool.query('UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_after = $1, last_error = $2 WHERE id = $3 AND locked_by = $4', [
          retryAt.getTime(),
          // TEXT cannot hold NUL (SQLite's can), and an error message may quote binary input.
          error.slice(0, 2000).replaceAll('\u0000', '\uFFFD'),
          id,
          holder,
        ]);
      }
    },
    async pending(kind) {
      return (await one<{ n: number }>(pool, 'SELECT COUNT(*) AS n FROM jobs WHERE kind = $1', [kind]))!.n;
    },
  };
}

export function createPostgresLeases({ pool }: PgContext): LeaseStore {
  return {
    async acquire(name, holder, ttlMs, now) {
      const t = now.getTime();
      const r = await pool.query(
        `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
        [name, holder, t + ttlMs, t],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async release(name, holder) {
      await pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
    },
  };
}
