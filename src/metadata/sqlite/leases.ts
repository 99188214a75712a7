/** Leases on SQLite: one row per name; taking one is a single IMMEDIATE transaction. */
import type { LeaseStore } from '../types.js';
import type { Db } from './open.js';

export function createSqliteLeases(db: Db): LeaseStore {
  const getStmt = db.prepare<[string], { holder: string; expires_at: number }>('SELECT holder, expires_at FROM leases WHERE name = ?');
  const putStmt = db.prepare(
    `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
  );
  const releaseStmt = db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  const acquire = db.transaction((name: string, holder: string, ttlMs: number, now: number): boolean => {
    const cur = getStmt.get(name);
    if (cur && cur.holder !== holder && cur.expires_at > now) return false;
    putStmt.run(name, holder, now + ttlMs);
    return true;
  });
  return {
    async acquire(name, holder, ttlMs, now) {
      return acquire.immediate(name, holder, ttlMs, now.getTime());
    },
    async release(name, holder) {
      releaseStmt.run(name, holder);
    },
  };
}
