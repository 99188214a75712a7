/** Named documents (secrets, pull-through cache rules) on PostgreSQL; the twin of ../sqlite/documents.ts. */
import type { DocumentKind, DocumentRecord, DocumentStore } from '../documents.js';
import { changes, one, rows, type PgContext } from './pool.js';

interface Row {
  registry_id: string;
  kind: string;
  name: string;
  document: string;
  created_at: string | number;
  updated_at: string | number;
}

const toRecord = (r: Row): DocumentRecord => ({
  registryId: r.registry_id,
  kind: r.kind as DocumentKind,
  name: r.name,
  document: r.document,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

export function createPostgresDocuments({ pool, collate }: PgContext): DocumentStore {
  return {
    async get(registryId, kind, name) {
      const r = await one<Row>(pool, 'SELECT * FROM named_documents WHERE registry_id = $1 AND kind = $2 AND name = $3', [registryId, kind, name]);
      return r && toRecord(r);
    },
    async list(registryId, kind, page) {
      const prefix = page.prefix ?? '';
      const found = await rows<Row>(
        pool,
        `SELECT * FROM named_documents WHERE registry_id = $1 AND kind = $2 AND name${collate} > $3 AND left(name, length($4)) = $4
         ORDER BY name${collate} LIMIT $5`,
        [registryId, kind, page.after ?? '', prefix, page.limit],
      );
      return found.map(toRecord);
    },
    async create(r) {
      const sql = `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`;
      return (await changes(pool, sql, [r.registryId, r.kind, r.name, r.document, r.now.getTime()])) > 0;
    },
    async replace(r, previous) {
      const t = r.now.getTime();
      if (previous === undefined) {
        const sql = `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`;
        return (await changes(pool, sql, [r.registryId, r.kind, r.name, r.document, t])) > 0;
      }
      const sql = 'UPDATE named_documents SET document = $1, updated_at = $2 WHERE registry_id = $3 AND kind = $4 AND name = $5 AND document = $6';
      return (await changes(pool, sql, [r.document, t, r.registryId, r.kind, r.name, previous])) > 0;
    },
    async delete(registryId, kind, name) {
      return (await changes(pool, 'DELETE FROM named_documents WHERE registry_id = $1 AND kind = $2 AND name = $3', [registryId, kind, name])) > 0;
    },
  };
}
