/**
 * KMS keys on SQLite. The alias and arn rules are the table's unique constraints, so a create or
 * a recordExternal racing another node's is settled by the insert itself (ON CONFLICT DO NOTHING).
 */
import { randomUUID } from 'node:crypto';
import { KMS_KEY_COLUMNS, toKmsKey, type KmsKeyRow } from '../kms-key-rows.js';
import type { KmsKeyStore } from '../types.js';
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
    byAlias: db.prepare<[string, string, string], KmsKeyRow>(
      `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = ? AND region = ? AND alias = ?`,
    ),
    list: db.prepare<[string, string], KmsKeyRow>(
      `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = ? AND region = ? AND origin = 'BERTH' ORDER BY created_at, id`,
    ),
    listBerth: db.prepare<[], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE origin = 'BERTH' ORDER BY created_at, id`),
    listAll: db.prepare<[], KmsKeyRow>(`SELECT ${KMS_KEY_COLUMNS} FROM kms_keys ORDER BY created_at, id`),
    setState: db.prepare('UPDATE kms_keys SET state = ? WHERE id = ?'),
  };
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
    async recordExternal(accountId, region, keyRef, now) {
      return toKmsKey(recordExternal.immediate(accountId, region, keyRef, now.getTime()));
    },
    async listAll() {
      return q.listAll.all().map(toKmsKey);
    },
  };
}
