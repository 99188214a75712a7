/** Repository creation templates on SQLite (../creation-templates.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import { toCreationTemplate as toTemplate, type CreationTemplateRow as Row, type CreationTemplateStore } from '../creation-templates.js';
import type { Db } from './open.js';

/** Bound parameters per statement, well under SQLite's limit. */
const CHUNK = 500;

export function createSqliteCreationTemplates(db: Db): CreationTemplateStore {
  const getStmt = db.prepare<[string, string], Row>('SELECT * FROM repository_creation_templates WHERE registry_id = ? AND prefix = ?');
  const listStmt = db.prepare<[string, string, number], Row>(
    'SELECT * FROM repository_creation_templates WHERE registry_id = ? AND prefix > ? ORDER BY prefix LIMIT ?',
  );
  const insert = db.prepare(
    `INSERT INTO repository_creation_templates (registry_id, prefix, document, version, created_at, updated_at)
     VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const updateStmt = db.prepare(
    `UPDATE repository_creation_templates SET document = ?, version = version + 1, updated_at = ?
     WHERE registry_id = ? AND prefix = ? AND version = ?`,
  );
  const deleteStmt = db.prepare('DELETE FROM repository_creation_templates WHERE registry_id = ? AND prefix = ?');
  const update = db.transaction((key: string, prefix: string, document: string, expected: number, now: number) =>
    updateStmt.run(document, now, key, prefix, expected).changes > 0 ? getStmt.get(key, prefix) : undefined,
  );
  const remove = db.transaction((key: string, prefix: string) => {
    const r = getStmt.get(key, prefix);
    if (r) deleteStmt.run(key, prefix);
    return r;
  });
  return {
    async get(registryKey, prefix) {
      const r = getStmt.get(registryKeyText(registryKey), prefix);
      return r && toTemplate(r);
    },
    async getMany(registryKey, prefixes) {
      const key = registryKeyText(registryKey);
      const unique = [...new Set(prefixes)];
      const found: Row[] = [];
      for (let i = 0; i < unique.length; i += CHUNK) {
        const part = unique.slice(i, i + CHUNK);
        const sql = `SELECT * FROM repository_creation_templates WHERE registry_id = ? AND prefix IN (${part.map(() => '?').join(', ')})`;
        found.push(...db.prepare<string[], Row>(sql).all(key, ...part));
      }
      return found.sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : 0)).map(toTemplate);
    },
    async list(registryKey, page) {
      return listStmt.all(registryKeyText(registryKey), page.after ?? '', page.limit).map(toTemplate);
    },
    async create(t) {
      const now = t.now.getTime();
      return insert.run(registryKeyText(t.registryKey), t.prefix, t.document, now, now).changes > 0;
    },
    async update(registryKey, prefix, document, expectedVersion, now) {
      const r = update.immediate(registryKeyText(registryKey), prefix, document, expectedVersion, now.getTime());
      return r && toTemplate(r);
    },
    async delete(registryKey, prefix) {
      const r = remove.immediate(registryKeyText(registryKey), prefix);
      return r && toTemplate(r);
    },
  };
}
