/** Per-account quota values and the layer API's part counts, on SQLite. */
import type { QuotaOverride, QuotaStore } from '../quotas.js';
import type { Db } from './open.js';

interface Row {
  account_id: string;
  name: string;
  value: number;
}

export function createSqliteQuotas(db: Db): QuotaStore {
  const all = db.prepare<[], Row>('SELECT account_id, name, value FROM account_quotas ORDER BY account_id, name');
  const ofAccount = db.prepare<[string], Row>('SELECT account_id, name, value FROM account_quotas WHERE account_id = ? ORDER BY name');
  const upsert = db.prepare(
    `INSERT INTO account_quotas (account_id, name, value) VALUES (?, ?, ?)
     ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value`,
  );
  const remove = db.prepare('DELETE FROM account_quotas WHERE account_id = ? AND name = ?');
  const parts = db.prepare<[string], { layer_parts: number; last_part_bytes: number }>('SELECT layer_parts, last_part_bytes FROM uploads WHERE id = ?');
  const addPart = db.prepare('UPDATE uploads SET layer_parts = layer_parts + 1, last_part_bytes = ? WHERE id = ?');
  const toOverride = (r: Row): QuotaOverride => ({ accountId: r.account_id, name: r.name, value: r.value });
  return {
    async list(accountId) {
      return (accountId === undefined ? all.all() : ofAccount.all(accountId)).map(toOverride);
    },
    async set(accountId, name, value) {
      if (value === undefined) remove.run(accountId, name);
      else upsert.run(accountId, name, value);
    },
    async uploadParts(uploadId) {
      const r = parts.get(uploadId);
      return r && { parts: r.layer_parts, lastPartBytes: r.last_part_bytes };
    },
    async recordUploadPart(uploadId, bytes) {
      addPart.run(bytes, uploadId);
    },
  };
}
