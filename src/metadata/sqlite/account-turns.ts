/**
 * What every queue claimed in turns between accounts (../job-turns.ts) needs on SQLite: the
 * accounts with rows, each with its last turn, and the record of the accounts a claim served.
 * The job queue keeps its turns per kind; the event outbox under its own name (OUTBOX_TURNS).
 */
import type { Db } from './open.js';

/**
 * The accounts with rows in `table` (within `scope`, an SQL condition, when given), one index
 * probe each: a loose scan of an index on (scope's columns, account_id), whatever the number of
 * rows. Each comes with its last turn of `turnKind` (an SQL expression; 0: never served).
 */
export function accountsSql(table: string, turnKind: string, scope?: string): string {
  const within = scope ? `${scope} AND ` : '';
  return `WITH RECURSIVE a(account_id) AS (
    SELECT min(account_id) FROM ${table}${scope ? ` WHERE ${scope}` : ''}
    UNION ALL
    SELECT (SELECT min(account_id) FROM ${table} WHERE ${within}account_id > a.account_id) FROM a WHERE a.account_id IS NOT NULL)
  SELECT a.account_id, coalesce(t.turn, 0) AS turn FROM a LEFT JOIN job_turns t ON t.kind = ${turnKind} AND t.account_id = a.account_id
  WHERE a.account_id IS NOT NULL`;
}

export interface TurnRecorder {
  /** The turn of a claim starting now: after every turn recorded, of any kind (one probe of job_turns_turn). */
  next(): number;
  /** Records that a claim of `turn` served `account` (once per kind and account). */
  served(kind: string, account: string, turn: number): void;
}

export function prepareTurns(db: Db): TurnRecorder {
  const nextStmt = db.prepare<[], { turn: number }>('SELECT coalesce((SELECT max(turn) FROM job_turns), 0) + 1 AS turn');
  const servedStmt = db.prepare(
    'INSERT INTO job_turns (kind, account_id, turn) VALUES (?, ?, ?) ON CONFLICT (kind, account_id) DO UPDATE SET turn = excluded.turn',
  );
  return {
    next: () => nextStmt.get()!.turn,
    served: (kind, account, turn) => void servedStmt.run(kind, account, turn),
  };
}
