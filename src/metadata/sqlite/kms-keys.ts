/**
 * KMS keys on SQLite. The alias and arn rules are the table's unique constraints, so a create or
 * a recordExternal racing another node's is settled by the insert itself (ON CONFLICT DO NOTHING).
 */
import { randomUUID } from 'node:crypto';
import { KMS_KEY_COLUMNS, toKmsKey, type KmsKeyRow } from '../kms-key-rows.js';
import type { KmsKeyStore, SetKmsAliasResult } from '../types.js';
import type { Db } from './open.js';

export function createSqliteKmsKeys(db: Db): KmsKeyStore {
  const q = {
    insert: db.prepare(
      `INSERT INTO kms_keys (${KMS_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (account_id, region, alias) DO NOTHING`,
    ),
    insertExternal: db.prepare(
      `INSERT INTO kms_keys (${KMS_KEY_COLUMNS}) VALUES (?, ?, ?, ?, NULL, '', 'Enabled', 'EXTERNAL', NULL, ?)
       ON CONFLICT (arn) DO NOTHING`,
    ),
    get: db.prepare<[string], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE id = ?`),
    byArn: db.prepare<[string], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE arn = ?`),
    byAlias: db.prepare<[string, string, string], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = ? AND region = ? AND alias = ?`),
    list: db.prepare<[string, string], KmsKeyRow>(
      `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = ? AND region = ? AND origin = 'BERTH' ORDER BY created_at, id`,
    ),
    listBerth: db.prepare<[], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE origin = 'BERTH' ORDER BY created_at, id`),
    listAll: db.prepare<[], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys ORDER BY created_at, id`),
    setState: db.prepare('UPDATE kms_keys SET state = ? WHERE id = ?'),
    setAlias: db.prepare('UPDATE kms_keys SET alias = ? WHERE id = ? AND alias IS NULL'),
    deleteAlias: db.prepare('UPDATE kms_keys SET alias = NULL WHERE account_id = ? AND region = ? AND alias = ?'),
  };
  // One write transaction: the checks and the update see one state of the table.
  const setAlias = db.transaction((id: string, alias: string): SetKmsAliasResult => {
    const row = q.get.get(id);
    if (!row) return 'notFound';
    if (q.byAlias.get(row.account_id, row.region, alias)) return 'aliasTaken';
    if (row.alias !== null) return 'hasAlias';
    q.setAlias.run(alias, id);
    return 'set';
  });
  const recordExternal = db.transaction((accountId: string, region: string, keyRef: string, now: number): KmsKeyRow => {
    q.insertExternal.run(randomUUID(), accountId, region, keyRef, now);
    return q.byArn.get(keyRef)!;
  });
  return {
    async create(k) {
      const n = q.insert.run(
        k.id,
        k.accountId,
        k.region,
        k.arn,
        k.alias ?? null,
        k.description,
        k.state,
        k.origin,
        k.sealedMaterial ?? null,
        k.now.getTime(),
      ).changes;
      if (n > 0) return { kind: 'created', key: toKmsKey(q.get.get(k.id)!) };
      // Only the alias is a conflict target: a clash of id or arn throws above.
      return { kind: 'aliasTaken', existing: toKmsKey(q.byAlias.get(k.accountId, k.region, k.alias!)!) };
    },
    async get(id) {
      const r = q.get.get(id);
      return r && toKmsKey(r);
    },
    async findByArn(arn) {
      const r = q.byArn.get(arn);
      return r && toKmsKey(r);
    },
    async findByAlias(accountId, region, alias) {
      const r = q.byAlias.get(accountId, region, alias);
      return r && toKmsKey(r);
    },
    async list(scope) {
      return (scope ? q.list.all(scope.accountId, scope.region) : q.listBerth.all()).map(toKmsKey);
    },
    async setState(id, state) {
      return q.setState.run(state, id).changes > 0;
    },
    async setAlias(id, alias) {
      return setAlias.immediate(id, alias);
    },
    async deleteAlias(accountId, region, alias) {
      return q.deleteAlias.run(accountId, region, alias).changes > 0;
    },
    async recordExternal(accountId, region, keyRef, now) {
      return toKmsKey(recordExternal.immediate(accountId, region, keyRef, now.getTime()));
    },
    async listAll() {
      return q.listAll.all().map(toKmsKey);
    },
  };
}
