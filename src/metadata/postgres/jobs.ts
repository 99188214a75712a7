/**
 * The job queue and leases on PostgreSQL (the twins of ../sqlite/jobs.ts and leases.ts). Both
 * are single statements, atomic on their own, that several nodes may run at once:
 *
 *  - a claim picks due, unlocked jobs with FOR UPDATE SKIP LOCKED, so two workers never take
 *    the same job and never wait for each other's jobs (each skips what the other is taking); a
 *    row another claimer updated after our snapshot is re-checked on its latest version and
 *    dropped. Accounts take turns (../job-turns.ts): the statement walks the accounts with jobs
 *    of each kind (one index probe each), takes each one's oldest due jobs, orders them round by
 *    round in turn order, and records the accounts it served in job_turns. Two claims serving
 *    the same account meet on its job_turns row, for the moment of an upsert: rows are upserted
 *    in key order, so they cannot deadlock;
 *  - a lease is an INSERT ... ON CONFLICT DO UPDATE whose WHERE lets the update through only for
 *    the same holder or an expired lease; the conflict path locks the row, so of two nodes
 *    racing for an expired lease exactly one gets it.
 */
import type { JobRecord, JobRequest, JobStore, LeaseStore } from '../types.js';
import { one, rows, type PgContext, type Queryable } from './pool.js';

interface Row {
  id: number;
  kind: string;
  account_id: string;
  payload: string;
  attempts: number;
  last_error: string | null;
  run_after: number;
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
 * The claim, in one statement ($1 kinds in order, $2 now, $3 holder, $4 lock end, $5 limit, $6
 * candidates per account, $7 the share per account or NULL, $8/$9 the accounts the claimer
 * holds jobs of and how many). The due and unlocked test is repeated where the rows are locked:
 * only there is it re-checked on a row another claim changed since the snapshot. Exported for
 * bench/job-claims.ts's query plan.
 */
export const CLAIM_SQL = `
WITH RECURSIVE
  kinds AS (SELECT kind, n AS kind_rank FROM unnest($1::text[]) WITH ORDINALITY AS k(kind, n)),
  accounts(kind, account_id) AS (
    SELECT kind, (SELECT min(account_id) FROM jobs j WHERE j.kind = kinds.kind) FROM kinds
    UNION ALL
    SELECT a.kind, (SELECT min(account_id) FROM jobs j WHERE j.kind = a.kind AND j.account_id > a.account_id)
    FROM accounts a WHERE a.account_id IS NOT NULL),
  held AS (SELECT account_id, n FROM unnest($8::text[], $9::int[]) AS h(account_id, n)),
  candidates AS (
    SELECT d.id, d.run_after, k.kind_rank, coalesce(t.turn, 0) AS turn,
           row_number() OVER (PARTITION BY a.kind, a.account_id ORDER BY d.run_after, d.id) AS round,
           coalesce($7::int - h.n, $7::int) AS room
    FROM accounts a
    JOIN kinds k ON k.kind = a.kind
    LEFT JOIN job_turns t ON t.kind = a.kind AND t.account_id = a.account_id
    LEFT JOIN held h ON h.account_id = a.account_id
    CROSS JOIN LATERAL (
      SELECT j.id, j.run_after FROM jobs j
      WHERE j.kind = a.kind AND j.account_id = a.account_id AND j.run_after <= $2 AND (j.locked_until IS NULL OR j.locked_until < $2)
      ORDER BY j.run_after, j.id LIMIT $6) d
    WHERE a.account_id IS NOT NULL),
  picked AS (
    SELECT jobs.id, c.kind_rank, c.round, c.turn FROM jobs JOIN candidates c ON c.id = jobs.id
    WHERE (c.room IS NULL OR c.round <= c.room)
      AND jobs.run_after <= $2 AND (jobs.locked_until IS NULL OR jobs.locked_until < $2)
    ORDER BY c.kind_rank, c.round, c.turn, c.run_after, c.id LIMIT $5
    FOR UPDATE OF jobs SKIP LOCKED),
  claimed AS (
    UPDATE jobs SET locked_by = $3, locked_until = $4, attempts = jobs.attempts + 1
    FROM picked WHERE jobs.id = picked.id
    RETURNING jobs.id, jobs.kind, jobs.account_id, jobs.payload, jobs.attempts, jobs.last_error, jobs.run_after,
              picked.kind_rank, picked.round, picked.turn),
  next_turn AS (SELECT coalesce(max(turn), 0) + 1 AS turn FROM job_turns),
  turns AS (
    INSERT INTO job_turns (kind, account_id, turn)
    SELECT DISTINCT c.kind, c.account_id, n.turn FROM claimed c CROSS JOIN next_turn n ORDER BY c.kind, c.account_id
    ON CONFLICT (kind, account_id) DO UPDATE SET turn = greatest(job_turns.turn, excluded.turn))
SELECT id, kind, account_id, payload, attempts, last_error, run_after, kind_rank::int, round::int, turn FROM claimed`;

export function createPostgresJobs({ pool }: PgContext): JobStore {
  return {
    async enqueue(jobs, now) {
      await enqueueIn(pool, jobs, now.getTime());
    },
    async claim(kinds, holder, leaseMs, limit, now, share) {
      if (kinds.length === 0 || limit <= 0) return [];
      const t = now.getTime();
      const held = share ? [...share.held] : [];
      const claimed = await rows<Row & { kind_rank: number; round: number; turn: number }>(pool, CLAIM_SQL, [
        kinds,
        t,
        holder,
        t + leaseMs,
        limit,
        // Candidates per account: a few claims' worth, so that a claim racing another (which
        // skips the rows the other is taking) still finds some of the account's jobs to take.
        Math.min(limit * 4, share?.perAccount ?? Number.MAX_SAFE_INTEGER),
        share?.perAccount ?? null,
        held.map(([account]) => account),
        held.map(([, n]) => n),
      ]);
      // RETURNING has no order: the claim's own, as SQLite returns it.
      claimed.sort((a, b) => a.kind_rank - b.kind_rank || a.round - b.round || a.turn - b.turn || a.run_after - b.run_after || a.id - b.id);
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
