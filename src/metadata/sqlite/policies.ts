/** Policy documents and registry settings on SQLite. */
import type { PolicyStore, RegistrySettingsStore } from '../types.js';
import type { Db } from './open.js';
import { policyOfRow, principalIdsText, type PolicyRow } from '../policy-rows.js';
import { registryKeyText } from '../../core/registry-key.js';

export function createSqlitePolicies(db: Db): PolicyStore {
  const getStmt = db.prepare<[string, string], PolicyRow>('SELECT document, updated_at, principal_ids FROM policies WHERE scope = ? AND kind = ?');
  const putStmt = db.prepare(
    `INSERT INTO policies (scope, kind, document, updated_at, principal_ids) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (scope, kind) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, principal_ids = excluded.principal_ids`,
  );
  const deleteStmt = db.prepare('DELETE FROM policies WHERE scope = ? AND kind = ?');
  const scopesStmt = db.prepare<[string], { scope: string }>('SELECT scope FROM policies WHERE kind = ? ORDER BY scope');
  return {
    async scopes(kind) {
      return scopesStmt.all(kind).map((r) => r.scope);
    },
    async get(scope, kind) {
      const r = getStmt.get(scope, kind);
      return r && policyOfRow(r);
    },
    async put(scope, kind, document, now, principalIds) {
      putStmt.run(scope, kind, document, now.getTime(), principalIdsText(principalIds));
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
