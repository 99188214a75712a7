/** Repositories on SQLite. */
import type { Page, RepositoryRecord, RepositoryStore } from '../types.js';
import type { Db } from './open.js';

interface Row {
  id: number;
  registry_id: string;
  name: string;
  created_at: number;
}

export function toRepository(r: Row): RepositoryRecord {
  return { id: r.id, registryId: r.registry_id, name: r.name, createdAt: new Date(r.created_at) };
}

export function createSqliteRepositories(db: Db): RepositoryStore {
  const findStmt = db.prepare<[string, string], Row>('SELECT * FROM repositories WHERE registry_id = ? AND name = ?');
  const insertStmt = db.prepare('INSERT INTO repositories (registry_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const listStmt = db.prepare<[string, string, number], { name: string }>(
    'SELECT name FROM repositories WHERE registry_id = ? AND name > ? ORDER BY name LIMIT ?',
  );
  const deleteStmt = db.prepare('DELETE FROM repositories WHERE id = ?');
  const ensure = db.transaction((registryId: string, name: string, now: number): Row => {
    insertStmt.run(registryId, name, now);
    return findStmt.get(registryId, name)!;
  });

  return {
    async find(registryId, name) {
      const r = findStmt.get(registryId, name);
      return r && toRepository(r);
    },
    async ensure(registryId, name, now) {
      const r = findStmt.get(registryId, name);
      if (r) return toRepository(r);
      return toRepository(ensure.immediate(registryId, name, now.getTime()));
    },
    async list(registryId, page: Page) {
      return listStmt.all(registryId, page.after ?? '', page.limit).map((r) => r.name);
    },
    async delete(id) {
      return deleteStmt.run(id).changes > 0;
    },
  };
}
