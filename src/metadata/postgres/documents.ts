/** Named documents (secrets, pull-through cache rules) on PostgreSQL; the twin of ../sqlite/documents.ts. */
import { registryKeyText } from '../../core/registry-key.js';
import { toDocumentRecord, type DocumentKind, type DocumentRecord, type DocumentRow as Row, type DocumentStore } from '../documents.js';
import { postgresNamedRows } from './named-rows.js';
import { changes, one, type PgContext } from './pool.js';

export function createPostgresDocuments(ctx: PgContext): DocumentStore {
  const { pool } = ctx;
  const { get, list } = postgresNamedRows<Row, DocumentKind, DocumentRecord>(ctx, 'named_documents', toDocumentRecord);
  return {
    get,
    list,
    async count(registryKey, kind) {
      const r = await one<{ n: string }>(pool, 'SELECT COUNT(*) AS n FROM named_documents WHERE registry_id = $1 AND kind = $2', [
        registryKeyText(registryKey),
        kind,
      ]);
      return Number(r!.n);
    },
    async create(r) {
      const sql = `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`;
      return (await changes(pool, sql, [registryKeyText(r.registryKey), r.kind, r.name, r.document, r.now.getTime()])) > 0;
    },
    async replace(r, previous) {
      const t = r.now.getTime();
      if (previous === undefined) {
        const sql = `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`;
        return (await changes(pool, sql, [registryKeyText(r.registryKey), r.kind, r.name, r.document, t])) > 0;
      }
      const sql = 'UPDATE named_documents SET document = $1, updated_at = $2 WHERE registry_id = $3 AND kind = $4 AND name = $5 AND document = $6';
      return (await changes(pool, sql, [r.document, t, registryKeyText(r.registryKey), r.kind, r.name, previous])) > 0;
    },
    async delete(registryKey, kind, name) {
      const keyText = registryKeyText(registryKey);
      return (await changes(pool, 'DELETE FROM named_documents WHERE registry_id = $1 AND kind = $2 AND name = $3', [keyText, kind, name])) > 0;
    },
  };
}
