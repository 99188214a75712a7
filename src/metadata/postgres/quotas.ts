/** Per-account quota values and the layer API's part counts, on PostgreSQL (twin of ../sqlite/quotas.ts). */
import type { QuotaOverride, QuotaStore } from '../quotas.js';
import { one, rows, type PgContext } from './pool.js';

interface Row {
  account_id: string;
  name: string;
  value: string | number;
}

export function createPostgresQuotas({ pool }: PgContext): QuotaStore {
  const toOverride = (r: Row): QuotaOverride => ({ accountId: r.account_id, name: r.name, value: Number(r.value) });
  return {
    async list(accountId) {
      const found =
        accountId === undefined
          ? await rows<Row>(pool, 'SELECT account_id, name, value FROM account_quotas ORDER BY account_id, name')
          : await rows<Row>(pool, 'SELECT account_id, name, value FROM account_quotas WHERE account_id = $1 ORDER BY name', [accountId]);
      return found.map(toOverride);
    },
    async set(accountId, name, value) {
      if (value === undefined) await pool.query('DELETE FROM account_quotas WHERE account_id = $1 AND name = $2', [accountId, name]);
      else
        await pool.query(
          `INSERT INTO account_quotas (account_id, name, value) VALUES ($1, $2, $3)
           ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value`,
          [accountId, name, value],
        );
    },
    async uploadParts(uploadId) {
      const r = await one<{ layer_parts: number; last_part_bytes: string | number }>(pool, 'SELECT layer_parts, last_part_bytes FROM uploads WHERE id = $1', [
        uploadId,
      ]);
      return r && { parts: Number(r.layer_parts), lastPartBytes: Number(r.last_part_bytes) };
    },
    async recordUploadPart(uploadId, bytes) {
      await pool.query('UPDATE uploads SET layer_parts = layer_parts + 1, last_part_bytes = $1 WHERE id = $2', [bytes, uploadId]);
    },
  };
}
