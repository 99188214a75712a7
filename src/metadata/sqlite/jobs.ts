/** The job queue on SQLite. Claims are IMMEDIATE transactions, so two workers never share a job. */
import type { JobRecord, JobRequest, JobStore } from '../types.js';
import type { Db } from './open.js';

interface Row {
  id: number;
  kind: string;
  payload: string;
  attempts: number;
  last_error: string | null;
}

/** The insert a transaction elsewhere (a manifest put) runs to enqueue in the same commit. */
export function prepareEnqueue(db: Db): (job: JobRequest, now: number) => void {
  const insert = db.prepare('INSERT INTO jobs (kind, payload, run_after, created_at) VALUES (?, ?, ?, ?)');
  return (job, now) => void insert.run(job.kind, JSON.stringify(job.payload), job.runAfter?.getTime() ?? now, now);
}

export function createSqliteJobs(db: Db): JobStore {
  const enqueueOne = prepareEnqueue(db);
  const dueStmt = db.prepare<[string, number, number, number], Row>(
    `SELECT id, kind, payload, attempts, last_error FROM jobs
     WHERE kind = ? AND run_after <= ? AND (locked_until IS NULL OR locked_until < ?) ORDER BY run_after, id LIMIT ?`,
  );
  const lockStmt = db.prepare('UPDATE jobs SET locked_by = ?, locked_until = ?, attempts = attempts + 1 WHERE id = ?');
  const renewStmt = db.prepare('UPDATE jobs SET locked_until = ? WHERE id = ? AND locked_by = ? AND attempts = ?');
  const completeStmt = db.prepare('DELETE FROM jobs WHERE id = ? AND locked_by = ?');
  const retryStmt = db.prepare('UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_after = ?, last_error = ? WHERE id = ? AND locked_by = ?');
  const pendingStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE kind = ?');

  const enqueue = db.transaction((jobs: JobRequest[], now: number) => {
    for (const j of jobs) enqueueOne(j, now);
  });
  const claim = db.transaction((kinds: string[], holder: string, leaseMs: number, limit: number, now: number): JobRecord[] => {
    const out: JobRecord[] = [];
    for (const kind of kinds) {
      for (const r of dueStmt.all(kind, now, now, limit - out.length)) {
        lockStmt.run(holder, now + leaseMs, r.id);
        out.push({
          id: r.id,
          kind: r.kind,
          payload: JSON.parse(r.payload) as unknown,
          attempts: r.attempts + 1,
          ...(r.last_error !== null && { lastError: r.last_error }),
        });
      }
      if (out.length >= limit) break;
    }
    return out;
  });

  return {
    async enqueue(jobs, now) {
      if (jobs.length > 0) enqueue.immediate(jobs, now.getTime());
    },
    async claim(kinds, holder, leaseMs, limit, now) {
      return claim.immediate(kinds, holder, leaseMs, limit, now.getTime());
    },
    async renew(id, holder, attempts, leaseMs, now) {
      return renewStmt.run(now.getTime() + leaseMs, id, holder, attempts).changes > 0;
    },
    async complete(id, holder) {
      completeStmt.run(id, holder);
    },
    async fail(id, holder, error, retryAt) {
      if (retryAt === undefined) completeStmt.run(id, holder);
      else retryStmt.run(retryAt.getTime(), error.slice(0, 2000), id, holder);
    },
    async pending(kind) {
      return pendingStmt.get(kind)!.n;
    },
  };
}
