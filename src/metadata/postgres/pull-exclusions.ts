/** Pull-time update exclusions on PostgreSQL (the twin of ../sqlite/pull-exclusions.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import type { PullExclusionStore } from '../pull-exclusions.js';
import { changes, one, rows, withTransaction, type PgContext } from './pool.js';

export function createPostgresPullExclusions({ pool, collate }: PgContext): PullExclusionStore {
  return {
    async add(registryKey, principalArn, now, limit) {
      const key = registryKeyText(registryKey);
      // Serializable: two nodes adding the limit's last one cannot both count below it.
      return withTransaction(
        pool,
        async (tx) => {
          const has = await one(tx, 'SELECT 1 FROM pull_time_exclusions WHERE registry_id = $1 AND principal_arn = $2', [key, principalArn]);
          if (has) return 'exists' as const;
          const count = await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM pull_time_exclusions WHERE registry_id = $1', [key]);
          if (Number(count!.n) >= limit) return 'limit' as const;
          const added = await changes(
            tx,
            'INSERT INTO pull_time_exclusions (registry_id, principal_arn, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [key, principalArn, now.getTime()],
          );
          return added > 0 ? ('added' as const) : ('exists' as const);
        },
        { isolation: 'SERIALIZABLE' },
      );
    },
    async remove(registryKey, principalArn) {
      return (
        (await changes(pool, 'DELETE FROM pull_time_exclusions WHERE registry_id = $1 AND principal_arn = $2', [registryKeyText(registryKey), principalArn])) >
        0
      );
    },
    async list(registryKey, page) {
      const found = await rows<{ principal_arn: string; created_at: string }>(
        pool,
        `SELECT principal_arn, created_at FROM pull_time_exclusions WHERE registry_id = $1 AND principal_arn${collate} > $2
         ORDER BY principal_arn${collate} LIMIT $3`,
        [registryKeyText(registryKey), page.after ?? '', page.limit],
      );
      return found.map((r) => ({ principalArn: r.principal_arn, createdAt: new Date(Number(r.created_at)) }));
    },
    async excluded(registryKey, principalArns) {
      if (principalArns.length === 0) return new Set();
      const found = await rows<{ principal_arn: string }>(
        pool,
        'SELECT principal_arn FROM pull_time_exclusions WHERE registry_id = $1 AND principal_arn = ANY($2::text[])',
        [registryKeyText(registryKey), [...new Set(principalArns)]],
      );
      return new Set(found.map((r) => r.principal_arn));
    },
  };
}
