/** Named documents (secrets, pull-through cache rules) on SQLite; the twin of ../postgres/documents.ts. */
import { registryKeyText } from '../../core/registry-key.js';
import { toDocumentRecord, type DocumentKind, type DocumentRecord, type DocumentRow as Row, type DocumentStore } from '../documents.js';
import { sqliteNamedRows } from './named-rows.js';
import type { Db } from './open.js';

export function createSqliteDocuments(db: Db): DocumentStore {
  const { get, list } = sqliteNamedRows<Row, DocumentKind, DocumentRecord>(db, 'named_documents', toDocumentRecord);
  const insert = db.prepare(
    'INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const upsert = db.prepare(
    `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
  );
  const swap = db.prepare('UPDATE named_documents SET document = ?, updated_at = ? WHERE registry_id = ? AND kind = ? AND name = ? AND document = ?');
  const del = db.prepare('DELETE FROM named_documents WHERE registry_id = ? AND kind = ? AND name = ?');
  const countStmt = db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM named_documents WHERE registry_id = ? AND kind = ?');
  return {
    get,
    list,
    async count(registryKey, kind) {
      return countStmt.get(registryKeyText(registryKey), kind)!.n;
    },
    async create(r) {
      const t = r.now.getTime();
      return insert.run(registryKeyText(r.registryKey), r.kind, r.name, r.document, t, t).changes > 0;
    },
    async replace(r, previous) {
      const t = r.now.getTime();
      if (previous === undefined) return upsert.run(registryKeyText(r.registryKey), r.kind, r.name, r.document, t, t).changes > 0;
      return swap.run(r.document, t, registryKeyText(r.registryKey), r.kind, r.name, previous).changes > 0;
    },
    async delete(registryKey, kind, name) {
      const keyText = registryKeyText(registryKey);
      return del.run(keyText, kind, name).changes > 0;
    },
  };
}
