/** Login profiles and console sessions on SQLite; the twin of ../postgres/console.ts. */
import {
  toConsoleSession,
  toLoginProfile,
  type ConsoleSessionRow,
  type ConsoleSessionStore,
  type LoginProfileRow,
  type LoginProfileStore,
} from '../console.js';
import type { Db } from './open.js';

export function createSqliteLoginProfiles(db: Db): LoginProfileStore {
  // The user must exist: a profile is inserted only beside its user row.
  const insert = db.prepare(
    `INSERT INTO login_profiles (account_id, user_name, password_hash, password_reset_required, created_at, updated_at)
     SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE account_id = ? AND name = ?) ON CONFLICT DO NOTHING`,
  );
  const get = db.prepare<[string, string], LoginProfileRow>('SELECT * FROM login_profiles WHERE account_id = ? AND user_name = ?');
  const update = db.prepare(
    `UPDATE login_profiles SET password_hash = COALESCE(?, password_hash), password_reset_required = COALESCE(?, password_reset_required),
     updated_at = ? WHERE account_id = ? AND user_name = ?`,
  );
  const del = db.prepare('DELETE FROM login_profiles WHERE account_id = ? AND user_name = ?');
  return {
    async create(p) {
      const t = p.now.getTime();
      return insert.run(p.accountId, p.userName, p.passwordHash, p.passwordResetRequired ? 1 : 0, t, t, p.accountId, p.userName).changes > 0;
    },
    async get(accountId, userName) {
      const r = get.get(accountId, userName);
      return r && toLoginProfile(r);
    },
    async update(accountId, userName, c) {
      const reset = c.passwordResetRequired === undefined ? null : c.passwordResetRequired ? 1 : 0;
      return update.run(c.passwordHash ?? null, reset, c.now.getTime(), accountId, userName).changes > 0;
    },
    async delete(accountId, userName) {
      return del.run(accountId, userName).changes > 0;
    },
  };
}

export function createSqliteConsoleSessions(db: Db): ConsoleSessionStore {
  const insert = db.prepare('INSERT INTO console_sessions (id_hash, account_id, basis, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
  const get = db.prepare<[string], ConsoleSessionRow>('SELECT * FROM console_sessions WHERE id_hash = ?');
  const touch = db.prepare('UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?');
  const del = db.prepare('DELETE FROM console_sessions WHERE id_hash = ?');
  const rebase = db.prepare('UPDATE console_sessions SET basis = ? WHERE id_hash = ?');
  const purge = db.prepare('DELETE FROM console_sessions WHERE expires_at <= ? OR last_seen_at < ?');
  return {
    async create(r) {
      insert.run(r.idHash, r.accountId, r.basis, r.createdAt.getTime(), r.lastSeenAt.getTime(), r.expiresAt.getTime());
    },
    async get(idHash) {
      const r = get.get(idHash);
      return r && toConsoleSession(r);
    },
    async touch(idHash, at) {
      touch.run(at.getTime(), idHash, at.getTime());
    },
    async delete(idHash) {
      return del.run(idHash).changes > 0;
    },
    async rebase(idHash, basis) {
      return rebase.run(basis, idHash).changes > 0;
    },
    async purge(now, idleSince) {
      return purge.run(now.getTime(), idleSince.getTime()).changes;
    },
  };
}
