/** Login profiles and console sessions on PostgreSQL; the twin of ../sqlite/console.ts. */
import {
  toConsoleSession,
  toLoginProfile,
  type ConsoleSessionRow,
  type ConsoleSessionStore,
  type LoginProfileRow,
  type LoginProfileStore,
} from '../console.js';
import { changes, one, type PgContext } from './pool.js';

export function createPostgresLoginProfiles({ pool }: PgContext): LoginProfileStore {
  return {
    async create(p) {
      // The user must exist: a profile is inserted only beside its user row.
      const sql = `INSERT INTO login_profiles (account_id, user_name, password_hash, password_reset_required, created_at, updated_at)
        SELECT $1::text, $2::text, $3::text, $4::integer, $5::bigint, $5::bigint WHERE EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND name = $2) ON CONFLICT DO NOTHING`;
      return (await changes(pool, sql, [p.accountId, p.userName, p.passwordHash, p.passwordResetRequired ? 1 : 0, p.now.getTime()])) > 0;
    },
    async get(accountId, userName) {
      const r = await one<LoginProfileRow>(pool, 'SELECT * FROM login_profiles WHERE account_id = $1 AND user_name = $2', [accountId, userName]);
      return r && toLoginProfile(r);
    },
    async update(accountId, userName, c) {
      const reset = c.passwordResetRequired === undefined ? null : c.passwordResetRequired ? 1 : 0;
      const sql = `UPDATE login_profiles SET password_hash = COALESCE($1, password_hash),
        password_reset_required = COALESCE($2::integer, password_reset_required), updated_at = $3 WHERE account_id = $4 AND user_name = $5`;
      return (await changes(pool, sql, [c.passwordHash ?? null, reset, c.now.getTime(), accountId, userName])) > 0;
    },
    async delete(accountId, userName) {
      return (await changes(pool, 'DELETE FROM login_profiles WHERE account_id = $1 AND user_name = $2', [accountId, userName])) > 0;
    },
  };
}

export function createPostgresConsoleSessions({ pool }: PgContext): ConsoleSessionStore {
  return {
    async create(r) {
      await changes(pool, 'INSERT INTO console_sessions (id_hash, account_id, basis, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        r.idHash,
        r.accountId,
        r.basis,
        r.createdAt.getTime(),
        r.lastSeenAt.getTime(),
        r.expiresAt.getTime(),
      ]);
    },
    async get(idHash) {
      const r = await one<ConsoleSessionRow>(pool, 'SELECT * FROM console_sessions WHERE id_hash = $1', [idHash]);
      return r && toConsoleSession(r);
    },
    async touch(idHash, at) {
      await changes(pool, 'UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1', [at.getTime(), idHash]);
    },
    async delete(idHash) {
      return (await changes(pool, 'DELETE FROM console_sessions WHERE id_hash = $1', [idHash])) > 0;
    },
    async rebase(idHash, basis) {
      return (await changes(pool, 'UPDATE console_sessions SET basis = $1 WHERE id_hash = $2', [basis, idHash])) > 0;
    },
    async purge(now, idleSince) {
      return changes(pool, 'DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2', [now.getTime(), idleSince.getTime()]);
    },
  };
}
