/** Tags and upload sessions on SQLite. */
import type { TagStore, UploadCreation, UploadLimits, UploadRecord, UploadStore } from '../types.js';
import { prepareOutboxWriter } from './events.js';
import type { Db } from './open.js';

export function createSqliteTags(db: Db): TagStore {
  const listStmt = db.prepare<[number, string, number], { name: string }>('SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?');
  const deleteStmt = db.prepare('DELETE FROM tags WHERE repository_id = ? AND name = ?');
  const tagged = db.prepare<[number, string], { digest: string }>('SELECT digest FROM tags WHERE repository_id = ? AND name = ?');
  const outbox = prepareOutboxWriter(db);
  const deleteReported = db.transaction((repositoryId: number, tag: string, report: NonNullable<Parameters<TagStore['delete']>[2]>) => {
    const digest = tagged.get(repositoryId, tag)?.digest;
    if (digest === undefined) return false;
    outbox.removed(repositoryId, digest, tag, true, report.events, report.now.getTime());
    return deleteStmt.run(repositoryId, tag).changes > 0;
  });
  return {
    async list(repositoryId, page) {
      return listStmt.all(repositoryId, page.after ?? '', page.limit).map((r) => r.name);
    },
    async delete(repositoryId, tag, report) {
      if (report) return deleteReported.immediate(repositoryId, tag, report);
      return deleteStmt.run(repositoryId, tag).changes > 0;
    },
  };
}

interface UploadRow {
  id: string;
  repository_id: number;
  size: number;
  created_at: number;
  updated_at: number;
}

export function createSqliteUploads(db: Db): UploadStore {
  const countStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM uploads');
  const countAccountStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM uploads WHERE account_id = ?');
  const insertStmt = db.prepare('INSERT INTO uploads (id, repository_id, account_id, size, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)');
  const findStmt = db.prepare<[string], UploadRow>('SELECT id, repository_id, size, created_at, updated_at FROM uploads WHERE id = ?');
  const setSizeStmt = db.prepare('UPDATE uploads SET size = ?, updated_at = ? WHERE id = ?');
  const deleteStmt = db.prepare('DELETE FROM uploads WHERE id = ?');
  const create = db.transaction((id: string, repositoryId: number, accountId: string, now: number, limits: UploadLimits): UploadCreation => {
    // The account's cap first: it is the one its own caller can act on.
    if (countAccountStmt.get(accountId)!.n >= limits.perAccount) return 'account';
    if (countStmt.get()!.n >= limits.total) return 'total';
    insertStmt.run(id, repositoryId, accountId, now, now);
    return 'created';
  });
  return {
    async create(u, limits) {
      return create.immediate(u.id, u.repositoryId, u.accountId, u.now.getTime(), limits);
    },
    async find(id) {
      const r = findStmt.get(id);
      if (!r) return undefined;
      const u: UploadRecord = {
        id: r.id,
        repositoryId: r.repository_id,
        size: r.size,
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      };
      return u;
    },
    async setSize(id, size, now) {
      return setSizeStmt.run(size, now.getTime(), id).changes > 0;
    },
    async delete(id) {
      return deleteStmt.run(id).changes > 0;
    },
  };
}
