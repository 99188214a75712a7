/**
 * The web console's sessions. Sign-in (with an access key and its secret, temporary credentials,
 * or a console password) starts one; the browser holds only a random 256-bit id in an HttpOnly
 * cookie, never a secret. The server keeps, under the id's SHA-256, what the session was signed
 * in with (its basis: the access key id, the session token, or the user), checked again at every
 * call, so the session outlives nothing it stands for: a key deactivated or deleted, a user or
 * its console password deleted or changed, temporary credentials expired, a role deleted.
 *
 * Why server-side rows rather than a sealed stateless cookie: sign-out and those checks must
 * act at once on every node, which a stateless cookie can only do with a revocation table read
 * at every call anyway; a row read by its primary key is that one read, and it holds the basis.
 *
 * The CSRF token is an HMAC of the session id under a key derived from the server key: every
 * node can check it, nothing need be stored, and it cannot be derived from anything the page
 * can read (the id is HttpOnly).
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { ConsoleSessionStore } from '../metadata/console.js';
import type { Principal } from './principal.js';

/** What a session was signed in with, checked again at each call. */
export type SessionBasis =
  | { kind: 'key'; accessKeyId: string }
  | { kind: 'temporary'; accessKeyId: string; sessionToken: string }
  /**
   * `password` is the stamp of the password signed in with (login-profiles.ts): a new password
   * ends the session, as a deleted one does. Sessions started before Berth kept it have none.
   */
  | { kind: 'password'; userName: string; userId: string; password?: string };

/** Who a basis stands for now; undefined once it no longer stands. */
export type BasisCheck = (accountId: string, basis: SessionBasis) => Promise<Principal | undefined>;

export interface SessionLimits {
  /** A session ends this long after sign-in. */
  ttlMs: number;
  /** ... or this long after its last call. */
  idleMs: number;
}

export interface OpenSession {
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

/** A touch is written at most this often: a call a second costs no write a second. */
const TOUCH_EVERY_MS = 60_000;
/** Ids are 32 random bytes, base64url: 43 characters. */
const ID_RE = /^[A-Za-z0-9_-]{43}$/;

export class ConsoleSessions {
  private readonly csrfKey: Buffer;

  constructor(
    private readonly store: ConsoleSessionStore,
    private readonly clock: Clock,
    serverKey: Buffer,
    private readonly limits: SessionLimits,
    private readonly stillValid: BasisCheck,
  ) {
    // The server key also seals secrets and signs tokens: a derived key keeps this use apart.
    this.csrfKey = Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), 'berth console csrf v1', 32));
  }

  /** Starts a session for a principal whose credentials were just checked; the id goes in the cookie. */
  async start(principal: Principal, basis: SessionBasis, notAfter?: Date): Promise<OpenSession & { id: string }> {
    const now = this.clock.now();
    // Expired and idle sessions are swept here, at sign-in, rather than by a timer on every node.
    await this.store.purge(now, new Date(now.getTime() - this.limits.idleMs));
    const id = randomBytes(32).toString('base64url');
    let expiresAt = new Date(now.getTime() + this.limits.ttlMs);
    if (notAfter !== undefined && notAfter < expiresAt) expiresAt = notAfter;
    await this.store.create({ idHash: hashOf(id), accountId: principal.accountId, basis: JSON.stringify(basis), createdAt: now, lastSeenAt: now, expiresAt });
    return { id, principal, csrfToken: this.csrfOf(id), expiresAt };
  }

  /**
   * The session a cookie names, if it is still open and what it was signed in with still
   * stands; a session found ended is deleted. Each call counts against the idle timeout.
   */
  async open(id: string | undefined): Promise<OpenSession | undefined> {
    if (id === undefined || !ID_RE.test(id)) return undefined;
    const idHash = hashOf(id);
    const row = await this.store.get(idHash);
    if (!row) return undefined;
    const now = this.clock.now();
    const ended = row.expiresAt <= now || now.getTime() - row.lastSeenAt.getTime() >= this.limits.idleMs;
    let principal: Principal | undefined;
    if (!ended) {
      let basis: SessionBasis | undefined;
      try {
        basis = JSON.parse(row.basis) as SessionBasis;
      } catch {
        basis = undefined;
      }
      principal = basis && (await this.stillValid(row.accountId, basis));
    }
    if (!principal) {
      await this.store.delete(idHash);
      return undefined;
    }
    if (now.getTime() - row.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await this.store.touch(idHash, now);
    return { principal, csrfToken: this.csrfOf(id), expiresAt: row.expiresAt };
  }

  /**
   * After a password session's user changed the password through it: that session goes on,
   * standing on the new password (`stamp`), while the user's other password sessions end.
   */
  async keepThroughPasswordChange(id: string | undefined, stamp: string): Promise<void> {
    if (id === undefined || !ID_RE.test(id)) return;
    const idHash = hashOf(id);
    const row = await this.store.get(idHash);
    let basis: SessionBasis | undefined;
    try {
      basis = row && (JSON.parse(row.basis) as SessionBasis);
    } catch {
      basis = undefined;
    }
    if (basis?.kind === 'password') await this.store.rebase(idHash, JSON.stringify({ ...basis, password: stamp }));
  }

  /** Ends it (sign-out); nothing to do when there is none. */
  async end(id: string | undefined): Promise<void> {
    if (id !== undefined && ID_RE.test(id)) await this.store.delete(hashOf(id));
  }

  /** Whether `token` is this session's CSRF token, compared in constant time. */
  csrfMatches(id: string, token: string | undefined): boolean {
    if (token === undefined) return false;
    const expected = Buffer.from(this.csrfOf(id));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private csrfOf(id: string): string {
    return createHmac('sha256', this.csrfKey).update(id).digest('base64url');
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
