/**
 * The job queue on SQLite. Claims are IMMEDIATE transactions, so two workers never share a job;
 * a claim takes turns between accounts (../job-turns.ts), reading the accounts' oldest due jobs
 * from the index in passes (TurnFill: a bounded number of rows, however many accounts) and
 * recording the accounts it served.
 */
import { fillTurns, roomOf, TurnFill } from '../job-turns.js';
import type { AccountShare, JobRecord, JobRequest, JobStore } from '../types.js';
import { accountsSql, prepareTurns } from './account-turns.js';
import type { Db } from './open.js';

interface Row {
  id: number;
  kind: string;
  account_id: string;
  payload: string;
  attempts: number;
  last_error: string | null;
  run_after: number;
}

/** The insert a transaction elsewhere (a manifest put) runs to enqueue in the same commit. */
export function prepareEnqueue(db: Db): (job: JobRequest, now: number) => void {
  const insert = db.prepare('INSERT INTO jobs (kind, account_id, payload, run_after, created_at) VALUES (?, ?, ?, ?, ?)');
  return (job, now) => void insert.run(job.kind, job.account ?? '', JSON.stringify(job.payload), job.runAfter?.getTime() ?? now, now);
}

/** The accounts with jobs of a kind and their last turn. Exported, as DUE_SQL is, for bench/job-claims.ts's query plans. */
export const ACCOUNTS_SQL = accountsSql('jobs', '@kind', 'kind = @kind');

const DUE_COLUMNS = 'id, kind, account_id, payload, attempts, last_error, run_after';
const DUE = 'kind = @kind AND account_id = @account AND (locked_until IS NULL OR locked_until < @now)';

/** One account's oldest due jobs of a kind: a fill's first pass. */
export const DUE_SQL = `SELECT ${DUE_COLUMNS} FROM jobs WHERE ${DUE} AND run_after <= @now ORDER BY run_after, id LIMIT @n`;

/**
 * The next of them, after the (run_after, id) a previous pass read up to: two ranges merged, not
 * a row-value comparison, which SQLite seeks on run_after alone, stepping over every job of the
 * same run_after (a batch enqueued at once) to find the id.
 */
export const NEXT_DUE_SQL = `SELECT * FROM (
  SELECT ${DUE_COLUMNS} FROM jobs WHERE ${DUE} AND run_after = @runAfter AND id > @id
  UNION ALL
  SELECT ${DUE_COLUMNS} FROM jobs WHERE ${DUE} AND run_after > @runAfter AND run_after <= @now
  ORDER BY run_after, id LIMIT @n)`;

interface DueParams {
  kind: string;
  account: string;
  runAfter: number;
  id: number;
  now: number;
  n: number;
}

export function createSqliteJobs(db: Db): JobStore {
  const enqueueOne = prepareEnqueue(db);
  const accountsStmt = db.prepare<[{ kind: string }], { account_id: string; turn: number }>(ACCOUNTS_SQL);
  const firstStmt = db.prepare<[Omit<DueParams, 'runAfter' | 'id'>], Row>(DUE_SQL);
  const nextStmt = db.prepare<[DueParams], Row>(NEXT_DUE_SQL);
  const turns = prepareTurns(db);
  const lockStmt = db.prepare('UPDATE jobs SET locked_by = ?, locked_until = ?, attempts = attempts + 1 WHERE id = ?');
  const renewStmt = db.prepare('UPDATE jobs SET locked_until = ? WHERE id = ? AND locked_by = ? AND attempts = ?');
  const completeStmt = db.prepare('DELETE FROM jobs WHERE id = ? AND locked_by = ?');
  const retryStmt = db.prepare('UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_after = ?, last_error = ? WHERE id = ? AND locked_by = ?');
  const pendingStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE kind = ?');

  const enqueue = db.transaction((jobs: JobRequest[], now: number) => {
    for (const j of jobs) enqueueOne(j, now);
  });
  const claim = db.transaction((kinds: string[], holder: string, leaseMs: number, limit: number, now: number, share?: AccountShare): JobRecord[] => {
    const out: JobRecord[] = [];
    const turn = turns.next();
    for (const kind of kinds) {
      if (out.length >= limit) break;
      const fill = new TurnFill<string, Row>(
        accountsStmt.all({ kind }).map((a) => ({ account: a.account_id, turn: a.turn, cap: roomOf(share, a.account_id) })),
        limit - out.length,
      );
      const taken = fillTurns(fill, (reads) =>
        reads.map(({ account, after, n }) =>
          after ? nextStmt.all({ kind, account, runAfter: after.run_after, id: after.id, now, n }) : firstStmt.all({ kind, account, now, n }),
        ),
      );
      for (const r of taken) {
        lockStmt.run(holder, now + leaseMs, r.id);
        out.push(toRecord(r, r.attempts + 1));
      }
    }
    // Every account served, once per kind: its turn is this claim's.
    const served = new Map(out.map((j) => [JSON.stringify([j.kind, j.account]), j]));
    for (const j of served.values()) turns.served(j.kind, j.account, turn);
    return out;
  });

  return {
    async enqueue(jobs, now) {
      if (jobs.length > 0) enqueue.immediate(jobs, now.getTime());
    },
    async claim(kinds, holder, leaseMs, limit, now, share) {
      if (kinds.length === 0 || limit <= 0) return [];
      return claim.immediate(kinds, holder, leaseMs, limit, now.getTime(), share);
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

function toRecord(r: Row, attempts: number): JobRecord {
  return {
    id: r.id,
    kind: r.kind,
    account: r.account_id,
    payload: JSON.parse(r.payload) as unknown,
    attempts,
    ...(r.last_error !== null && { lastError: r.last_error }),
  };
}
