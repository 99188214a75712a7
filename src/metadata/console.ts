/**
 * The web console's facts: IAM users' console passwords (login profiles), and the console's
 * sign-in sessions. Sessions live here, not in a node's memory, so any node of a deployment
 * serves any session and a sign-out ends it everywhere at once. A session is stored under the
 * SHA-256 of its cookie's id only: a copy of the database gives no cookie that works.
 */

export interface LoginProfileRecord {
  accountId: string;
  userName: string;
  /** scrypt, with its parameters and salt (auth/passwords.ts); never the password. */
  passwordHash: string;
  passwordResetRequired: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface LoginProfileStore {
  /** False when the user has one already, or does not exist. */
  create(p: { accountId: string; userName: string; passwordHash: string; passwordResetRequired: boolean; now: Date }): Promise<boolean>;
  get(accountId: string, userName: string): Promise<LoginProfileRecord | undefined>;
  /** Changes what is given; false when there is no profile. */
  update(accountId: string, userName: string, change: { passwordHash?: string; passwordResetRequired?: boolean; now: Date }): Promise<boolean>;
  delete(accountId: string, userName: string): Promise<boolean>;
}

export interface ConsoleSessionRecord {
  /** Hex SHA-256 of the session id the cookie carries. */
  idHash: string;
  accountId: string;
  /** JSON: what the session was signed in with, checked again at each call (auth/console-sessions.ts). */
  basis: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface ConsoleSessionStore {
  create(r: ConsoleSessionRecord): Promise<void>;
  get(idHash: string): Promise<ConsoleSessionRecord | undefined>;
  /** Records a call at `at` (the idle timeout counts from the last). */
  touch(idHash: string, at: Date): Promise<void>;
  delete(idHash: string): Promise<boolean>;
  /** Replaces what a session stands on (its basis JSON); false when there is no such session. */
  rebase(idHash: string, basis: string): Promise<boolean>;
  /** Deletes sessions that expired before `now` or were last seen before `idleSince`; how many. */
  purge(now: Date, idleSince: Date): Promise<number>;
}

/** Rows as both engines read them (PostgreSQL may hand back its bigints as text). */
export interface LoginProfileRow {
  account_id: string;
  user_name: string;
  password_hash: string;
  password_reset_required: number | boolean;
  created_at: string | number;
  updated_at: string | number;
}

export const toLoginProfile = (r: LoginProfileRow): LoginProfileRecord => ({
  accountId: r.account_id,
  userName: r.user_name,
  passwordHash: r.password_hash,
  passwordResetRequired: r.password_reset_required === true || Number(r.password_reset_required) === 1,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

export interface ConsoleSessionRow {
  id_hash: string;
  account_id: string;
  basis: string;
  created_at: string | number;
  last_seen_at: string | number;
  expires_at: string | number;
}

export const toConsoleSession = (r: ConsoleSessionRow): ConsoleSessionRecord => ({
  idHash: r.id_hash,
  accountId: r.account_id,
  basis: r.basis,
  createdAt: new Date(Number(r.created_at)),
  lastSeenAt: new Date(Number(r.last_seen_at)),
  expiresAt: new Date(Number(r.expires_at)),
});
