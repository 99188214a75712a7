/** Named documents (secrets, pull-through cache rules) on SQLite; the twin of ../postgres/documents.ts. */
import type { DocumentKind, DocumentRecord, DocumentStore } from '../documents.js';
import type { Db } from './open.js';

interface Row {
  registry_id: string;
  kind: string;
  name: string;
  document: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): DocumentRecord => ({
  registryId: r.registry_id,
  kind: r.kind as DocumentKind,
  name: r.name,
  document: r.document,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export function createSqliteDocuments(db: Db): DocumentStore {
  const getStmt = db.prepare<[string, string, string], Row>('SELECT * FROM named_documents WHERE registry_id = ? AND kind = ? AND name = ?');
  // substr rather than LIKE: a prefix may hold LIKE's wildcards.
  const listStmt = db.prepare<[string, string, string, string, string, number], Row>(
    `SELECT * FROM named_documents WHERE registry_id = ? AND kind = ? AND name > ? AND substr(name, 1, length(?)) = ? ORDER BY name LIMIT ?`,
  );
  const insert = db.prepare(
    'INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const upsert = db.prepare(
    `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
  );
  const swap = db.prepare('UPDATE named_documents SET document = ?, updated_at = ? WHERE registry_id = ? AND kind = ? AND name = ? AND document = ?');
  const del = db.prepare('DELETE FROM named_documents WHERE registry_id = ? AND kind = ? AND name = ?');
  return {
    async get(registryId, kind, name) {
      const r = getStmt.get(registryId, kind, name);
      return r && toRecord(r);
    },
    async list(registryId, kind, page) {
      const prefix = page.prefix ?? '';
      return listStmt.all(registryId, kind, page.after ?? '', prefix, prefix, page.limit).map(toRecord);
    },
    async create(r) {
      const t = r.now.getTime();
      return insert.run(r.registryId, r.kind, r.name, r.document, t, t).changes > 0;
    },
    async replace(r, previous) {
      const t = r.now.getTime();
      if (previous === undefined) return upsert.run(r.registryId, r.kind, r.name, r.document, t, t).changes > 0;
      return swap.run(r.document, t, r.registryId, r.kind, r.name, previous).changes > 0;
    },
    async delete(registryId, kind, name) {
      return del.run(registryId, kind, name).changes > 0;
    },
  };
}
