/** Policy documents and registry settings on SQLite. */
import type { PolicyStore, RegistrySettingsStore } from '../types.js';
import type { Db } from './open.js';
import { registryKeyText } from '../../core/registry-key.js';

export function createSqlitePolicies(db: Db): PolicyStore {
  const getStmt = db.prepare<[string, string], { document: string; updated_at: number }>(
    'SELECT document, updated_at FROM policies WHERE scope = ? AND kind = ?',
  );
  const putStmt = db.prepare(
    `INSERT INTO policies (scope, kind, document, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (scope, kind) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
  );
  const deleteStmt = db.prepare('DELETE FROM policies WHERE scope = ? AND kind = ?');
  const scopesStmt = db.prepare<[string], { scope: string }>('SELECT scope FROM policies WHERE kind = ? ORDER BY scope');
  return {
    async scopes(kind) {
      return scopesStmt.all(kind).map((r) => r.scope);
    },
    async get(scope, kind) {
      const r = getStmt.get(scope, kind);
      return r && { document: r.document, updatedAt: new Date(r.updated_at) };
    },
    async put(scope, kind, document, now) {
      putStmt.run(scope, kind, document, now.getTime());
    },
    async delete(scope, kind) {
      return deleteStmt.run(scope, kind).changes > 0;
    },
  };
}

export function createSqliteRegistrySettings(db: Db): RegistrySettingsStore {
  const getStmt = db.prepare<[string, string], { value: string }>('SELECT value FROM registry_settings WHERE registry_id = ? AND name = ?');
  const putStmt = db.prepare(
    `INSERT INTO registry_settings (registry_id, name, value) VALUES (?, ?, ?)
     ON CONFLICT (registry_id, name) DO UPDATE SET value = excluded.value`,
  );
  const allStmt = db.prepare<[string], { name: string; value: string }>('SELECT name, value FROM registry_settings WHERE registry_id = ?');
  const deleteStmt = db.prepare<[string, string], { value: string }>('DELETE FROM registry_settings WHERE registry_id = ? AND name = ? RETURNING value');
  return {
    async get(registryKey, name) {
      return getStmt.get(registryKeyText(registryKey), name)?.value;
    },
    async all(registryKey) {
      return new Map(allStmt.all(registryKeyText(registryKey)).map((r) => [r.name, r.value]));
    },
    async put(registryKey, name, value) {
      putStmt.run(registryKeyText(registryKey), name, value);
    },
    async delete(registryKey, name) {
      return deleteStmt.get(registryKeyText(registryKey), name)?.value;
    },
  };
}
