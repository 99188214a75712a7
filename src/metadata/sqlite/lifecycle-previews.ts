/** Lifecycle previews on SQLite: one row per repository, replaced by each new preview. */
import type { LifecyclePreviewStore } from '../types.js';
import type { Db } from './open.js';

interface Row {
  policy_text: string;
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';
  started_at: number;
  results: string | null;
}

export function createSqliteLifecyclePreviews(db: Db): LifecyclePreviewStore {
  const getStmt = db.prepare<[number], Row>('SELECT policy_text, status, started_at, results FROM lifecycle_previews WHERE repository_id = ?');
  const putStmt = db.prepare(
    `INSERT INTO lifecycle_previews (repository_id, policy_text, status, started_at, results) VALUES (?, ?, 'IN_PROGRESS', ?, NULL)
     ON CONFLICT (repository_id) DO UPDATE SET policy_text = excluded.policy_text, status = excluded.status,
       started_at = excluded.started_at, results = NULL`,
  );
  const finishStmt = db.prepare('UPDATE lifecycle_previews SET status = ?, results = ? WHERE repository_id = ?');
  const start = db.transaction((repositoryId: number, text: string, now: number, staleBefore: number): boolean => {
    const cur = getStmt.get(repositoryId);
    if (cur && cur.status === 'IN_PROGRESS' && cur.started_at > staleBefore) return false;
    putStmt.run(repositoryId, text, now);
    return true;
  });
  return {
    async start(repositoryId, text, now, staleBefore) {
      return start.immediate(repositoryId, text, now.getTime(), staleBefore.getTime());
    },
    async finish(repositoryId, status, results) {
      finishStmt.run(status, results ?? null, repositoryId);
    },
    async get(repositoryId) {
      const r = getStmt.get(repositoryId);
      if (!r) return undefined;
      return { policyText: r.policy_text, status: r.status, startedAt: new Date(r.started_at), ...(r.results !== null && { results: r.results }) };
    },
  };
}
