/**
 * The registry login token: the password behind `aws ecr get-login-password`, presented on /v2 as
 * HTTP Basic `AWS:<token>` for 12 hours.
 *
 * The token is stateless so any node can check it without a lookup: `v2.<kid>.<sealed>.<mac>`,
 * where the claims (account, principal ARN, expiry, and what it was minted with) are JSON sealed
 * with AES-256-GCM under a key derived from the server key, and the whole authenticated by a
 * 256-bit HMAC-SHA256 under another. Sealed, because a token minted with temporary credentials
 * names their session token, and login tokens end up in `~/.docker/config.json` and CI logs: its
 * holder may use it until it expires, but reads nothing from it. It names what it was minted with
 * (the long-term access key, or the temporary credentials' session, and the user's unique id), so
 * the authenticator refuses it once that is gone: the key deleted or inactive, the session's role
 * or user deleted. Every part is base64url or '.', never ':', because clients split
 * `AWS:<password>` on the first ':'. The key id lets several server keys be accepted during a
 * rotation (newest first; tokens name theirs). Tokens of the first format (`v1`, `b1`: the same
 * claims in clear base64url) are still accepted until they expire, so an upgrade logs no one out.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthError } from './errors.js';
import type { Principal } from './principal.js';

export const LOGIN_TOKEN_TTL_SECONDS = 12 * 3600;
/** Docker clients send this user name with ECR passwords. */
export const LOGIN_USERNAME = 'AWS';

/**
 * What a token is for: the login token (the /v2 password), or the short-lived Bearer token the
 * token endpoint exchanges it for (http/token/endpoint.ts). Each has its own version prefix and
 * MAC key, so neither passes for the other.
 */
export type TokenPurpose = 'login' | 'bearer';
/** The format minted now (claims sealed), and the first one (claims in clear), still accepted. */
const VERSIONS: Record<TokenPurpose, string> = { login: 'v2', bearer: 'b2' };
const CLEAR_VERSIONS: Record<TokenPurpose, string> = { login: 'v1', bearer: 'b1' };
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_TOKEN_CHARS = 8192;
/** A Bearer token from the token endpoint lives this long, never past the credentials it came from. */
export const BEARER_TOKEN_TTL_SECONDS = 15 * 60;
/** The principal ARN of a Bearer token handed out with no credentials: it reads public repositories only. */
export const ANONYMOUS_TOKEN_ARN = '';

export interface LoginTokenClaims {
  accountId: string;
  principalArn: string;
  expiresAt: Date;
  /** The session token of the temporary credentials it was minted with (session-token.ts). */
  session?: string;
  /**
   * The long-term access key it was minted with: the token stops with the key (deleted or made
   * inactive). Tokens minted before Berth kept it lack it and last until they expire.
   */
  accessKeyId?: string;
  /** The IAM user's unique id, when minted for a user: a user made again under the name is another one. */
  userId?: string;
  /**
   * The region that issued the token. Peer regions share the server key (for replication), so
   * a token must name its region to stay bound to it, as ECR's are.
   */
  region?: string;
}

interface DerivedKey {
  kid: string;
  macKey: Buffer;
  sealKey: Buffer;
}

const derived: Record<TokenPurpose, WeakMap<Buffer, DerivedKey>> = { login: new WeakMap(), bearer: new WeakMap() };

function derive(serverKey: Buffer, purpose: TokenPurpose): DerivedKey {
  let d = derived[purpose].get(serverKey);
  if (!d) {
    if (serverKey.length !== 32) throw new Error('the server key must be 32 bytes');
    const hk = (info: string, n: number) => Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), info, n));
    // The id is derived one-way, so it names the key without revealing anything about it.
    d = {
      kid: hk(`berth ${purpose}-token key id v1`, 6).toString('base64url'),
      macKey: hk(`berth ${purpose}-token mac v1`, 32),
      sealKey: hk(`berth ${purpose}-token seal v2`, 32),
    };
    derived[purpose].set(serverKey, d);
  }
  return d;
}

function mac(macKey: Buffer, signed: string): string {
  return createHmac('sha256', macKey).update(signed).digest('base64url');
}

/** `claims` sealed for `header` (`<version>.<kid>`, bound as associated data): iv, ciphertext, tag. */
function seal(sealKey: Buffer, header: string, claims: string): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', sealKey, iv).setAAD(Buffer.from(header));
  const body = Buffer.concat([c.update(claims, 'utf8'), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url');
}

/** The claims `seal` sealed, or undefined when they do not open. */
function open(sealKey: Buffer, header: string, sealed: string): string | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, IV_BYTES)).setAAD(Buffer.from(header));
    d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

export function issueLoginToken(opts: {
  accountId: string;
  principalArn: string;
  now: Date;
  ttlSeconds?: number;
  key: Buffer;
  session?: string;
  accessKeyId?: string;
  userId?: string;
  region?: string;
  purpose?: TokenPurpose;
}): {
  password: string;
  expiresAt: Date;
} {
  const ttl = opts.ttlSeconds ?? LOGIN_TOKEN_TTL_SECONDS;
  if (!(ttl > 0)) throw new Error('ttlSeconds must be positive');
  const expiresAt = new Date(opts.now.getTime() + ttl * 1000);
  const version = VERSIONS[opts.purpose ?? 'login'];
  const { kid, macKey, sealKey } = derive(opts.key, opts.purpose ?? 'login');
  const body = {
    a: opts.accountId,
    p: opts.principalArn,
    e: expiresAt.getTime(),
    ...(opts.session !== undefined && { s: opts.session }),
    ...(opts.accessKeyId !== undefined && { k: opts.accessKeyId }),
    ...(opts.userId !== undefined && { u: opts.userId }),
    ...(opts.region !== undefined && { r: opts.region }),
  };
  const claims = seal(sealKey, `${version}.${kid}`, JSON.stringify(body));
  const signed = `${version}.${kid}.${claims}`;
  return { password: `${signed}.${mac(macKey, signed)}`, expiresAt };
}

const invalid = () => new AuthError('InvalidLoginToken', 'Your authorization token is invalid.');

/**
 * The token's claims; throws AuthError (InvalidLoginToken, ExpiredLoginToken). With `region`, a
 * token must have been issued in that region: one without a region claim, or from another
 * region, is refused.
 */
export function verifyLoginToken(password: string, opts: { now: Date; keys: readonly Buffer[]; region?: string; purpose?: TokenPurpose }): LoginTokenClaims {
  const purpose = opts.purpose ?? 'login';
  if (password.length > MAX_TOKEN_CHARS) throw invalid();
  const parts = password.split('.');
  const version = parts[0];
  const sealed = version === VERSIONS[purpose];
  if (parts.length !== 4 || !(sealed || version === CLEAR_VERSIONS[purpose])) throw invalid();
  const [, kid, claims, given] = parts as [string, string, string, string];
  const key = opts.keys.map((k) => derive(k, purpose)).find((k) => k.kid === kid);
  if (!key) throw invalid();
  // Compare the canonical encoding, not decoded bytes: base64url decoding ignores the spare
  // low bits of the last character, and a token must be rejected if any character changed.
  const expected = Buffer.from(mac(key.macKey, `${version}.${kid}.${claims}`));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw invalid();

  // Authenticated from here on: the claims are ours, but check their shape anyway.
  const text = sealed ? open(key.sealKey, `${version}.${kid}`, claims) : Buffer.from(claims, 'base64url').toString('utf8');
  if (text === undefined) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid();
  }
  const { a, p, e, s, k, u, r } = (body ?? {}) as { a?: unknown; p?: unknown; e?: unknown; s?: unknown; k?: unknown; u?: unknown; r?: unknown };
  if (typeof a !== 'string' || typeof p !== 'string' || typeof e !== 'number' || !Number.isSafeInteger(e)) throw invalid();
  if (s !== undefined && typeof s !== 'string') throw invalid();
  if (k !== undefined && typeof k !== 'string') throw invalid();
  if (u !== undefined && typeof u !== 'string') throw invalid();
  if (r !== undefined && typeof r !== 'string') throw invalid();
  if (opts.region !== undefined && r !== opts.region) throw invalid();
  const expiresAt = new Date(e);
  if (opts.now.getTime() >= e) {
    const what = purpose === 'bearer' ? 'Bearer token' : 'authorization token';
    throw new AuthError('ExpiredLoginToken', `Your ${what} has expired (at ${expiresAt.toISOString()}). Reauthenticate and try again.`);
  }
  return {
    accountId: a,
    principalArn: p,
    expiresAt,
    ...(s !== undefined && { session: s }),
    ...(k !== undefined && { accessKeyId: k }),
    ...(u !== undefined && { userId: u }),
    ...(r !== undefined && { region: r }),
  };
}

/** RFC 7617 credentials from an Authorization header; undefined when absent, not Basic, or malformed. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * /v2's whole Basic check: user `AWS` with a valid login token. Throws MissingAuthentication when
 * there are no Basic credentials at all, so the caller can answer with a challenge.
 */
export function verifyBasicLogin(header: string | undefined, opts: { now: Date; keys: readonly Buffer[]; region?: string }): LoginTokenClaims {
  const creds = parseBasicAuth(header);
  if (!creds) throw new AuthError('MissingAuthentication', 'Basic credentials are required.');
  if (creds.username !== LOGIN_USERNAME) throw invalid();
  return verifyLoginToken(creds.password, opts);
}

/**
 * The login token for a principal (GetAuthorizationToken): 12 hours, but never past the
 * temporary credentials it was asked with, whose session it carries so /v2 sees the same
 * principal (role, session tags and policy) and the same end. Asked with a long-term access key,
 * it names the key, so it ends with it; minted for a user, it names the user's id, so it ends
 * with that user (not passing to another made under the name).
 */
export function loginTokenFor(principal: Principal, now: Date, key: Buffer, region: string): { password: string; expiresAt: Date } {
  const session = principal.session;
  if (session === undefined)
    return issueLoginToken({
      accountId: principal.accountId,
      principalArn: principal.arn,
      now,
      key,
      region,
      ...(principal.accessKeyId !== undefined && { accessKeyId: principal.accessKeyId }),
      ...(principal.userId !== undefined && { userId: principal.userId }),
    });
  const left = Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000);
  return issueLoginToken({
    accountId: principal.accountId,
    principalArn: principal.arn,
    now,
    key,
    ttlSeconds: Math.max(1, Math.min(LOGIN_TOKEN_TTL_SECONDS, left)),
    session: session.token,
    region,
  });
}

/**
 * The Bearer token the token endpoint hands out for a verified login (its claims) or for no
 * credentials (`undefined`: anonymous). It names the same principal, session, access key, user
 * id and region as the login it came from and lives BEARER_TOKEN_TTL_SECONDS, never past that
 * login's own expiry.
 */
export function issueBearerToken(login: LoginTokenClaims | undefined, opts: { now: Date; key: Buffer; region: string }): { token: string; expiresAt: Date } {
  const left = login === undefined ? BEARER_TOKEN_TTL_SECONDS : Math.floor((login.expiresAt.getTime() - opts.now.getTime()) / 1000);
  const { password, expiresAt } = issueLoginToken({
    accountId: login?.accountId ?? '',
    principalArn: login?.principalArn ?? ANONYMOUS_TOKEN_ARN,
    now: opts.now,
    key: opts.key,
    ttlSeconds: Math.max(1, Math.min(BEARER_TOKEN_TTL_SECONDS, left)),
    ...(login?.session !== undefined && { session: login.session }),
    ...(login?.accessKeyId !== undefined && { accessKeyId: login.accessKeyId }),
    ...(login?.userId !== undefined && { userId: login.userId }),
    region: opts.region,
    purpose: 'bearer',
  });
  return { token: password, expiresAt };
}
