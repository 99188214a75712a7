/**
 * IAM users' console passwords (IAM's login profiles) with IAM's rules and errors: one profile
 * per existing user, passwords checked against the policy and kept as scrypt hashes, a reset
 * flag that sign-in honours. Used by the IAM Query API and the console's sign-in, so the rules
 * live once.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import type { LoginProfileStore } from '../metadata/console.js';
import type { IdentityStore, UserRecord } from '../metadata/identities.js';
import { IdentityError } from './identity-admin.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

export interface LoginProfile {
  userName: string;
  createDate: Date;
  passwordResetRequired: boolean;
}

/** The outcome of a password sign-in: refused (one answer, whatever was wrong), or who it is, and the stamp of the password it used. */
export type PasswordCheck = { ok: false } | { ok: true; user: UserRecord; resetRequired: boolean; stamp: string };

/**
 * What names one setting of a password, for console sessions to stand on: a digest of its stored
 * scrypt hash, whose salt is new at each setting, so any new password (even the same one set
 * again) has another stamp and the sessions signed in with the old one end. One-way: it tells
 * nothing the stored hash does not.
 */
export function passwordStamp(passwordHash: string): string {
  return createHash('sha256').update(`berth password stamp v1\n${passwordHash}`).digest('base64url').slice(0, 22);
}

export class LoginProfiles {
  constructor(
    private readonly store: LoginProfileStore,
    private readonly identities: IdentityStore,
    private readonly clock: Clock,
  ) {}

  private async user(accountId: string, userName: string): Promise<UserRecord> {
    const u = await this.identities.user(accountId, userName);
    if (!u) throw new IdentityError(IamCodes.NoSuchEntity, `The user with name ${userName} cannot be found.`);
    return u;
  }

  private static checked(password: string): void {
    const problem = passwordProblem(password);
    if (problem !== undefined) throw new IdentityError(IamCodes.PasswordPolicyViolation, problem);
  }

  async create(accountId: string, given: string, password: string, passwordResetRequired: boolean): Promise<LoginProfile> {
    const { name: userName } = await this.user(accountId, given);
    LoginProfiles.checked(password);
    const now = this.clock.now();
    if (!(await this.store.create({ accountId, userName, passwordHash: await hashPassword(password), passwordResetRequired, now }))) {
      // Either it exists or the user went away meanwhile: say which.
      await this.user(accountId, userName);
      throw new IdentityError(IamCodes.EntityAlreadyExists, `Login Profile for user ${userName} already exists.`);
    }
    return { userName, createDate: now, passwordResetRequired };
  }

  async get(accountId: string, given: string): Promise<LoginProfile> {
    const { name: userName } = await this.user(accountId, given);
    const p = await this.store.get(accountId, userName);
    if (!p) throw new IdentityError(IamCodes.NoSuchEntity, `Login Profile for User ${userName} cannot be found.`);
    return { userName, createDate: p.createdAt, passwordResetRequired: p.passwordResetRequired };
  }

  /** Whether the user has a profile (deleting a user with one is a DeleteConflict, as in IAM). */
  async exists(accountId: string, userName: string): Promise<boolean> {
    return (await this.store.get(accountId, userName)) !== undefined;
  }

  /** The stamp of the user's password as it is set now (passwordStamp); undefined when the user has none. */
  async stamp(accountId: string, userName: string): Promise<string | undefined> {
    const p = await this.store.get(accountId, userName);
    return p && passwordStamp(p.passwordHash);
  }

  async update(accountId: string, given: string, change: { password?: string; passwordResetRequired?: boolean }): Promise<void> {
    const { name: userName } = await this.user(accountId, given);
    if (change.password !== undefined) LoginProfiles.checked(change.password);
    const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
    const updated = await this.store.update(accountId, userName, {
      ...(passwordHash !== undefined && { passwordHash }),
      ...(change.passwordResetRequired !== undefined && { passwordResetRequired: change.passwordResetRequired }),
      now: this.clock.now(),
    });
    if (!updated) throw new IdentityError(IamCodes.NoSuchEntity, `Login Profile for User ${userName} cannot be found.`);
  }

  async delete(accountId: string, given: string): Promise<void> {
    const { name: userName } = await this.user(accountId, given);
    if (!(await this.store.delete(accountId, userName))) {
      throw new IdentityError(IamCodes.NoSuchEntity, `Login Profile for User ${userName} cannot be found.`);
    }
  }

  /**
   * A user's own change of password (IAM's ChangePassword, and sign-in when a reset is
   * required): the old password must be right; the new one must pass the policy and differ.
   * Clears the reset flag. Returns the new password's stamp.
   */
  async change(accountId: string, userName: string, oldPassword: string, newPassword: string): Promise<string> {
    const check = await this.check(accountId, userName, oldPassword);
    if (!check.ok) throw new IdentityError(IamCodes.AccessDenied, 'The old password is not correct.');
    LoginProfiles.checked(newPassword);
    if (newPassword === oldPassword) throw new IdentityError(IamCodes.PasswordPolicyViolation, 'The new password must differ from the old one.');
    const passwordHash = await hashPassword(newPassword);
    if (!(await this.store.update(accountId, check.user.name, { passwordHash, passwordResetRequired: false, now: this.clock.now() }))) {
      throw new IdentityError(IamCodes.NoSuchEntity, `Login Profile for User ${userName} cannot be found.`);
    }
    return passwordStamp(passwordHash);
  }

  /** A password sign-in: the same work and the same answer for an unknown user, no profile, or a wrong password. */
  async check(accountId: string, userName: string, password: string): Promise<PasswordCheck> {
    const valid = /^\d{12}$/.test(accountId) && /^[\w+=,.@-]{1,64}$/.test(userName);
    // The user in any case (IAM's names are not told apart by case), its profile under its own name.
    const user = valid ? await this.identities.user(accountId, userName) : undefined;
    const profile = user && (await this.store.get(accountId, user.name));
    const matches = await verifyPassword(password, user && profile?.passwordHash);
    if (!matches || !user || !profile) return { ok: false };
    return { ok: true, user, resetRequired: profile.passwordResetRequired, stamp: passwordStamp(profile.passwordHash) };
  }
}
