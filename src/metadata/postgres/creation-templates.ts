/** Repository creation templates on PostgreSQL (the twin of ../sqlite/creation-templates.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import { toCreationTemplate as toTemplate, type CreationTemplateRow as Row, type CreationTemplateStore } from '../creation-templates.js';
import { changes, one, rows, type PgContext } from './pool.js';

const COLUMNS = 'registry_id, prefix, document, version, created_at, updated_at';

export function createPostgresCreationTemplates({ pool, collate }: PgContext): CreationTemplateStore {
  return {
    async get(registryKey, prefix) {
      const r = await one<Row>(pool, `SELECT ${COLUMNS} FROM repository_creation_templates WHERE registry_id = $1 AND prefix = $2`, [
        registryKeyText(registryKey),
        prefix,
      ]);
      return r && toTemplate(r);
    },
    async getMany(registryKey, prefixes) {
      const found = await rows<Row>(
        pool,
        `SELECT ${COLUMNS} FROM repository_creation_templates WHERE registry_id = $1 AND prefix = ANY($2::text[]) ORDER BY prefix${collate}`,
        [registryKeyText(registryKey), [...new Set(prefixes)]],
      );
      return found.map(toTemplate);
    },
    async list(registryKey, page) {
      const found = await rows<Row>(
        pool,
        `SELECT ${COLUMNS} FROM repository_creation_templates WHERE registry_id = $1 AND prefix${collate} > $2 ORDER BY prefix${collate} LIMIT $3`,
        [registryKeyText(registryKey), page.after ?? '', page.limit],
      );
      return found.map(toTemplate);
    },
    async create(t) {
      const n = await changes(pool, `INSERT INTO repository_creation_templates (${COLUMNS}) VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT DO NOTHING`, [
        registryKeyText(t.registryKey),
        t.prefix,
        t.document,
        t.now.getTime(),
      ]);
      return n > 0;
    },
    async update(registryKey, prefix, document, expectedVersion, now) {
      // One statement: the version check and the write cannot be split by another update.
      const r = await one<Row>(
        pool,
        `UPDATE repository_creation_templates SET document = $1, version = version + 1, updated_at = $2
         WHERE registry_id = $3 AND prefix = $4 AND version = $5 RETURNING ${COLUMNS}`,
        [document, now.getTime(), registryKeyText(registryKey), prefix, expectedVersion],
      );
      return r && toTemplate(r);
    },
    async delete(registryKey, prefix) {
      const r = await one<Row>(pool, `DELETE FROM repository_creation_templates WHERE registry_id = $1 AND prefix = $2 RETURNING ${COLUMNS}`, [
        registryKeyText(registryKey),
        prefix,
      ]);
      return r && toTemplate(r);
    },
  };
}
