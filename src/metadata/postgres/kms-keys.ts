/**
 * KMS keys on PostgreSQL (the twin of ../sqlite/kms-keys.ts). Races are settled by the unique
 * constraints: an INSERT ... ON CONFLICT DO NOTHING that meets a row another transaction is
 * inserting waits for it, then does nothing (or inserts, if that one rolled back), so the
 * statement that follows at READ COMMITTED sees the winner's row.
 */
import { randomUUID } from 'node:crypto';
import { KMS_KEY_COLUMNS, toKmsKey, type KmsKeyRow } from '../kms-key-rows.js';
import type { KmsKeyStore } from '../types.js';
import { changes, one, rows, type PgContext } from './pool.js';

const UNIQUE_VIOLATION = '23505';

export function createPostgresKmsKeys({ pool, collate }: PgContext): KmsKeyStore {
  const byAlias = async (accountId: string, region: string, alias: string) =>
    one<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND region = $2 AND alias = $3`, [accountId, region, alias]);
  const byArn = async (arn: string) => one<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE arn = $1`, [arn]);
  const order = `ORDER BY created_at, id${collate}`;
  return {
    async create(k) {
      const inserted = await one<KmsKeyRow>(
        pool,
        `INSERT INTO kms_keys (${KMS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (account_id, region, alias) DO NOTHING RETURNING ${KMS_KEY_COLUMNS}`,
        [k.id, k.accountId, k.region, k.arn, k.alias ?? null, k.description, k.state, k.origin, k.sealedMaterial ?? null, k.now.getTime()],
      );
      if (inserted) return { kind: 'created', key: toKmsKey(inserted) };
      // Only the alias is a conflict target: a clash of id or arn throws above. Keys are never
      // deleted, so the holder is there to read.
      return { kind: 'aliasTaken', existing: toKmsKey((await byAlias(k.accountId, k.region, k.alias!))!) };
    },
    async get(id) {
      const r = await one<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE id = $1`, [id]);
      return r && toKmsKey(r);
    },
    async findByArn(arn) {
      const r = await byArn(arn);
      return r && toKmsKey(r);
    },
    async findByAlias(accountId, region, alias) {
      const r = await byAlias(accountId, region, alias);
      return r && toKmsKey(r);
    },
    async list(scope) {
      const found = scope
        ? await rows<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND region = $2 AND origin = 'BERTH' ${order}`, [
            scope.accountId,
            scope.region,
          ])
        : await rows<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE origin = 'BERTH' ${order}`);
      return found.map(toKmsKey);
    },
    async setState(id, state) {
      return (await changes(pool, 'UPDATE kms_keys SET state = $1 WHERE id = $2', [state, id])) > 0;
    },
    async setAlias(id, alias) {
      try {
        // A row lock settles two nodes aliasing one key; the unique index, one alias on two keys.
        if ((await changes(pool, 'UPDATE kms_keys SET alias = $1 WHERE id = $2 AND alias IS NULL', [alias, id])) > 0) return 'set';
      } catch (e) {
        if ((e as { code?: unknown }).code === UNIQUE_VIOLATION) return 'aliasTaken';
        throw e;
      }
      const row = await one<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys WHERE id = $1`, [id]);
      if (!row) return 'notFound';
      return (await byAlias(row.account_id, row.region, alias)) ? 'aliasTaken' : 'hasAlias';
    },
    async deleteAlias(accountId, region, alias) {
      return (await changes(pool, 'UPDATE kms_keys SET alias = NULL WHERE account_id = $1 AND region = $2 AND alias = $3', [accountId, region, alias])) > 0;
    },
    async recordExternal(accountId, region, keyRef, now) {
      await pool.query(
        `INSERT INTO kms_keys (${KMS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, NULL, '', 'Enabled', 'EXTERNAL', NULL, $5)
         ON CONFLICT (arn) DO NOTHING`,
        [randomUUID(), accountId, region, keyRef, now.getTime()],
      );
      return toKmsKey((await byArn(keyRef))!);
    },
    async listAll() {
      return (await rows<KmsKeyRow>(pool, `SELECT ${KMS_KEY_COLUMNS} FROM kms_keys ${order}`)).map(toKmsKey);
    },
  };
}
