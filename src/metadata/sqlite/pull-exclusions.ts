/** Pull-time update exclusions on SQLite (../pull-exclusions.ts). */
import { registryKeyText } from '../../core/registry-key.js';
import type { PullExclusionStore } from '../pull-exclusions.js';
import type { Db } from './open.js';

/** Bound parameters per statement, well under SQLite's limit. */
const CHUNK = 500;

export function createSqlitePullExclusions(db: Db): PullExclusionStore {
  const countStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM pull_time_exclusions WHERE registry_id = ?');
  const insert = db.prepare('INSERT INTO pull_time_exclusions (registry_id, principal_arn, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const hasStmt = db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM pull_time_exclusions WHERE registry_id = ? AND principal_arn = ?');
  const deleteStmt = db.prepare('DELETE FROM pull_time_exclusions WHERE registry_id = ? AND principal_arn = ?');
  const listStmt = db.prepare<[string, string, number], { principal_arn: string; created_at: number }>(
    'SELECT principal_arn, created_at FROM pull_time_exclusions WHERE registry_id = ? AND principal_arn > ? ORDER BY principal_arn LIMIT ?',
  );
  const add = db.transaction((key: string, arn: string, now: number, limit: number): 'added' | 'exists' | 'limit' => {
    if (countStmt.get(key)!.n >= limit) {
      // At the limit, an existing one is still "exists", as it would be below it.
      return hasStmt.get(key, arn) ? 'exists' : 'limit';
    }
    return insert.run(key, arn, now).changes > 0 ? 'added' : 'exists';
  });
  return {
    async add(registryKey, principalArn, now, limit) {
      return add.immediate(registryKeyText(registryKey), principalArn, now.getTime(), limit);
    },
    async remove(registryKey, principalArn) {
      return deleteStmt.run(registryKeyText(registryKey), principalArn).changes > 0;
    },
    async list(registryKey, page) {
      return listStmt
        .all(registryKeyText(registryKey), page.after ?? '', page.limit)
        .map((r) => ({ principalArn: r.principal_arn, createdAt: new Date(r.created_at) }));
    },
    async excluded(registryKey, principalArns) {
      const key = registryKeyText(registryKey);
      const unique = [...new Set(principalArns)];
      const out = new Set<string>();
      for (let i = 0; i < unique.length; i += CHUNK) {
        const chunk = unique.slice(i, i + CHUNK);
        const found = db
          .prepare<string[], { principal_arn: string }>(
            `SELECT principal_arn FROM pull_time_exclusions WHERE registry_id = ? AND principal_arn IN (${chunk.map(() => '?').join(', ')})`,
          )
          .all(key, ...chunk);
        for (const r of found) out.add(r.principal_arn);
      }
      return out;
    },
  };
}
