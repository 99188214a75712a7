/**
 * The job queue and leases on PostgreSQL (the twins of ../sqlite/jobs.ts and leases.ts). Both
 * are single statements, atomic on their own, that several nodes may run at once:
 *
 *  - a claim picks due, unlocked jobs with FOR UPDATE SKIP LOCKED, so two workers never take
 *    the same job and never wait for each other (each skips what the other is taking); a row
 *    another claimer updated after our snapshot is re-checked on its latest version and dropped;
 *  - a lease is an INSERT ... ON CONFLICT DO UPDATE whose WHERE lets the update through only for
 *    the same holder or an expired lease; the conflict path locks the row, so of two nodes
 *    racing for an expired lease exactly one gets it.
 */
import type { JobRecord, JobRequest, JobStore, LeaseStore } from '../types.js';
import { one, rows, type PgContext, type Queryable } from './pool.js';

interface Row {
  id: number;
  kind: string;
  payload: string;
  attempts: number;
  last_error: string | null;
  run_after: number;
}

/** Enqueues inside the caller's transaction (the outbox: a job commits with its cause). */
export async function enqueueIn(tx: Queryable, jobs: JobRequest[], now: number): Promise<void> {
  if (jobs.length === 0) return;
  await tx.query(
    `INSERT INTO jobs (kind, payload, run_after, created_at)
     SELECT k, p, r, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS j(k, p, r, n) ORDER BY n`,
    [jobs.map((j) => j.kind), jobs.map((j) => JSON.stringify(j.payload)), jobs.map((j) => j.runAfter?.getTime() ?? now), now],
  );
}

export function createPostgresJobs({ pool }: PgContext): JobStore {
  return {
    async enqueue(jobs, now) {
      await enqueueIn(pool, jobs, now.getTime());
    },
    async claim(kinds, holder, leaseMs, limit, now) {
      if (kinds.length === 0 || limit <= 0) return [];
      const t = now.getTime();
      // Kinds in the order given, as SQLite takes them: earlier kinds first, then oldest due.
      const claimed = await rows<Row>(
        pool,
        `WITH picked AS (
           SELECT id FROM jobs
           WHERE kind = ANY($1::text[]) AND run_after <= $2 AND (locked_until IS NULL OR locked_until < $2)
           ORDER BY array_position($1::text[], kind), run_after, id LIMIT $5
           FOR UPDATE SKIP LOCKED)
         UPDATE jobs SET locked_by = $3, locked_until = $4, attempts = jobs.attempts + 1
         FROM picked WHERE jobs.id = picked.id
         RETURNING jobs.id, jobs.kind, jobs.payload, jobs.attempts, jobs.last_error, jobs.run_after`,
        [kinds, t, holder, t + leaseMs, limit],
      );
      const rank = (k: string) => kinds.indexOf(k);
      claimed.sort((a, b) => rank(a.kind) - rank(b.kind) || a.run_after - b.run_after || a.id - b.id);
      return claimed.map(
        (r): JobRecord => ({
          id: r.id,
          kind: r.kind,
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
