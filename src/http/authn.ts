/**
 * Turns a request into a principal: SigV4 with an access key for the AWS APIs (ECR JSON, IAM
 * and STS Query) — a stored key, or temporary credentials from STS with their session token —
 * a 12-hour login token over HTTP Basic (`AWS:<token>`) for /v2 or a Bearer token the token
 * endpoint exchanged one for, or anonymous.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AuthError, UNRECOGNIZED_CLIENT_MESSAGE } from '../auth/errors.js';
import { IdentityError, type IdentityAdmin } from '../auth/identity-admin.js';
import { ANONYMOUS_TOKEN_ARN, LOGIN_USERNAME, parseBasicAuth, verifyBasicLogin, verifyLoginToken, type LoginTokenClaims } from '../auth/login-token.js';
import { anonymousPrincipal, principalForKey, principalForSession, rootArn, withUserTags, type Principal } from '../auth/principal.js';
import { isReplicationToken, verifyReplicationToken } from '../auth/replication-token.js';
import { openSessionToken, type SessionClaims } from '../auth/session-token.js';
import { parseAuthorization, sha256Hex, splitUrl, verifySigV4, type AuthorizationSource, type HeaderMap } from '../auth/sigv4.js';
import type { Clock } from '../core/clock.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import { CredentialBasis } from './credential-basis.js';
import { notePrincipal } from './request-facts.js';

const MAX_VERIFIED_TOKENS = 10_000;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

export interface SignedIdentity {
  principal: Principal;
  /** The region and service of the signature's scope. */
  region: string;
  service: string;
}

export class Authenticator {
  /** Whether what a login token or session names (user, access key, role) still stands. */
  private readonly basis: CredentialBasis;

  constructor(
    private readonly identities: IdentityAdmin,
    private readonly clock: Clock,
    private readonly serverKeys: readonly Buffer[],
    cache: { ttlMs: number; changes: ChangeSignal } = { ttlMs: 0, changes: new ChangeSignal() },
    /** The region this deployment serves: login tokens of other regions, and replication tokens for them, are refused. */
    private readonly region?: string,
  ) {
    this.basis = new CredentialBasis(identities, cache);
  }

  /**
   * Verifies a SigV4-signed request whose body has been read, signed for one of `services` in one
   * of `regions` (the regions this deployment serves for that API).
   */
  async signed(req: IncomingMessage, body: Buffer, services: readonly string[], regions?: readonly string[]): Promise<SignedIdentity> {
    const { path, rawQuery } = splitUrl(req.url ?? '/');
    const headers = sigV4Headers(req);
    const signer = await this.signer({ headers, rawQuery });
    if (!signer) throw new AuthError('UnrecognizedClient', UNRECOGNIZED_CLIENT_MESSAGE);
    const info = verifySigV4({
      method: req.method ?? 'POST',
      path,
      rawQuery,
      headers,
      bodySha256Hex: sha256Hex(body),
      secretAccessKey: signer.secret,
      now: this.clock.now(),
      expectedService: services,
      ...(regions !== undefined && { expectedRegion: regions }),
    });
    const principal = await signer.principal();
    notePrincipal(req, principal);
    return { principal, region: info.region, service: info.service };
  }

  /**
   * Who an access key id claims to be and the secret its signature must be made with: a stored
   * key, or temporary credentials whose session token travels with the request (and must name
   * this key id). Undefined when unknown or inactive; a session token that is invalid or
   * expired throws, so the caller hears which.
   */
  private signer(source: AuthorizationSource): Promise<{ secret: string; principal(): Promise<Principal> } | undefined> {
    // One reading of the Authorization (or presigned query) for both: the key whose secret is
    // looked up is the key the signature is then verified with.
    const { accessKeyId, securityToken } = parseAuthorization(source);
    if (!ACCESS_KEY_ID.test(accessKeyId)) return Promise.resolve(undefined);
    return this.signerFor(accessKeyId, () => securityToken);
  }

  private async signerFor(
    accessKeyId: string,
    sessionToken: () => string | undefined,
  ): Promise<{ secret: string; principal(): Promise<Principal> } | undefined> {
    const token = sessionToken();
    if (accessKeyId.startsWith('ASIA')) {
      if (token === undefined) return undefined;
      const claims = this.openSession(token);
      if (claims.accessKeyId !== accessKeyId) return undefined;
      return { secret: claims.secretAccessKey, principal: () => this.sessionPrincipal(token, claims) };
    }
    // A session token beside a long-term key is no token of it (AWS: UnrecognizedClient).
    if (token !== undefined) return undefined;
    const key = await this.identities.activeKey(accessKeyId);
    if (!key) return undefined;
    return {
      secret: key.secret,
      principal: async () => {
        // Read at each request, with the key: the user's path and its tags (aws:PrincipalTag/*) as they are now.
        const user = key.record.userName === undefined ? undefined : await this.identities.user(key.record.accountId, key.record.userName);
        return principalForKey({
          id: key.record.id,
          accountId: key.record.accountId,
          ...(key.record.userName !== undefined && { userName: key.record.userName }),
          ...(user !== undefined && { userPath: user.path, userTags: user.tags, userId: user.userId }),
        });
      },
    };
  }

  /**
   * The principal of an access key id with its secret (and session token), checked as a SigV4
   * signature made with them would be (active key, matching secret, valid session token): the
   * web console's sign-in. Undefined for anything refused, whatever it was.
   */
  async principalOfCredentials(c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Promise<Principal | undefined> {
    return this.principalOfKey(c.accessKeyId, c.sessionToken, c.secretAccessKey);
  }

  /**
   * Who an access key (with its session token, for temporary credentials) stands for now:
   * undefined once the key is inactive or deleted, its user or role deleted, or its session
   * expired. A console session asks at each call. With `secret`, it must also match.
   */
  async principalOfKey(accessKeyId: string, sessionToken?: string, secret?: string): Promise<Principal | undefined> {
    if (!ACCESS_KEY_ID.test(accessKeyId)) return undefined;
    try {
      const signer = await this.signerFor(accessKeyId, () => sessionToken);
      if (!signer || (secret !== undefined && !sameSecret(signer.secret, secret))) return undefined;
      return await signer.principal();
    } catch (e) {
      // A user deleted between the key's lookup and its own is as gone as its key.
      if (e instanceof AuthError || e instanceof IdentityError) return undefined;
      throw e;
    }
  }

  /** Opened tokens, so a session's policy is parsed once, not per request (bounded like `verified`). */
  private readonly sessions = new Map<string, { claims: SessionClaims; principal: Principal }>();

  private openSession(token: string): SessionClaims {
    const now = this.clock.now();
    const known = this.sessions.get(token);
    if (known && known.claims.expiresAt.getTime() > now.getTime()) return known.claims;
    const claims = openSessionToken(token, { now, keys: this.serverKeys });
    // Another region's session (peers share the server key, not identities) is no session here.
    // One naming no region was sealed before sessions named theirs, and is taken until it expires.
    if (claims.region !== undefined && this.region !== undefined && claims.region !== this.region)
      throw new AuthError('UnrecognizedClient', UNRECOGNIZED_CLIENT_MESSAGE);
    return claims;
  }

  /**
   * The principal of an open session, once what it stands for is known to still exist: a
   * deleted role (or one deleted and created again: another role id) ends its sessions, as a
   * deleted user ends its login tokens.
   */
  private async sessionPrincipal(token: string, claims: SessionClaims): Promise<Principal> {
    let cached = this.sessions.get(token);
    if (!cached) {
      cached = { claims, principal: principalForSession(token, claims) };
      if (this.sessions.size >= MAX_VERIFIED_TOKENS) this.sessions.clear();
      this.sessions.set(token, cached);
    }
    const { principal } = cached;
    const s = claims.subject;
    if (s.kind === 'role') {
      if (!(await this.basis.roleStands(claims.accountId, s.roleName, s.roleId))) throw new AuthError('UnrecognizedClient', UNRECOGNIZED_CLIENT_MESSAGE);
      return this.basis.withManagedSessionPolicies(principal);
    } else if (s.kind === 'user') {
      // A GetSessionToken session acts with its user's tags as they are now (IAM's aws:PrincipalTag/*).
      const tags = await this.basis.userTags(principal, s.userId);
      if (tags === false) throw new AuthError('UnrecognizedClient', UNRECOGNIZED_CLIENT_MESSAGE);
      return withUserTags(principal, tags);
    }
    return principal;
  }

  /**
   * Headers whose token verified, with what they proved. A token is stateless and its claims
   * cannot change, so only its expiry needs checking again; this spares the HMAC per request.
   */
  private readonly verified = new Map<string, LoginTokenClaims>();

  /**
   * The principal of a /v2 request: a Bearer token from the token endpoint, or a login token sent
   * as Basic (pre-emptively, as scripts and the conformance suite do), whose user still exists;
   * anonymous when none is offered. A token outlives nothing it names: once its user is deleted,
   * or the access key it was minted with is deleted or made inactive, it is refused like any
   * invalid credential.
   */
  async v2(req: IncomingMessage): Promise<Principal> {
    try {
      return (await this.loginOf(req, req.headers.authorization, { replication: true })).principal;
    } catch (e) {
      if (e instanceof AuthError && req.headers.authorization !== undefined && bearerOf(req.headers.authorization) !== undefined) REFUSED_BEARER.add(req);
      throw e;
    }
  }

  /**
   * Who the token endpoint's caller is: Basic `AWS:<login token>` (the header, or containerd's
   * form fields put in one) checked as /v2 checks it, with the claims a Bearer token is minted
   * from; anonymous (no claims) with no credentials. A Bearer token or a replication token is no
   * login: the endpoint exchanges logins, and a replication push presents its token on /v2.
   */
  async tokenLogin(req: IncomingMessage, header: string | undefined): Promise<{ principal: Principal; claims?: LoginTokenClaims }> {
    if (header !== undefined && bearerOf(header) !== undefined)
      throw new AuthError('InvalidLoginToken', 'the token endpoint takes Basic credentials (AWS and a login token), not a Bearer token');
    return this.loginOf(req, header, { replication: false });
  }

  private async loginOf(
    req: IncomingMessage,
    header: string | undefined,
    allow: { replication: boolean },
  ): Promise<{ principal: Principal; claims?: LoginTokenClaims }> {
    const { principal, session, claims } = this.tokenPrincipal(req, header, allow);
    if (session !== undefined) {
      // Minted from temporary credentials: the session's own checks (and its principal) apply.
      const p = await (async () => this.sessionPrincipal(session, this.openSession(session)))().catch((e: unknown) => {
        if (e instanceof AuthError && e.reason === 'ExpiredToken') throw new AuthError('ExpiredLoginToken', e.message);
        if (e instanceof AuthError) throw new AuthError('InvalidLoginToken', 'the credentials of this login token are no longer valid');
        throw e;
      });
      notePrincipal(req, p);
      return { principal: p, ...(claims && { claims }) };
    }
    let current = principal;
    if (principal.kind === 'user') {
      const tags = await this.basis.userTags(principal, claims?.userId);
      if (tags === false) throw new AuthError('InvalidLoginToken', `the user ${principal.userName!} of this login token no longer exists`);
      current = withUserTags(principal, tags);
      notePrincipal(req, current);
    }
    if (claims?.accessKeyId !== undefined) await this.basis.requireActiveKey(claims.accessKeyId, current);
    return { principal: current, ...(claims && { claims }) };
  }

  private tokenPrincipal(
    req: IncomingMessage,
    header: string | undefined,
    allow: { replication: boolean },
  ): { principal: Principal; session?: string; claims?: LoginTokenClaims } {
    if (header === undefined || isEmptyBasic(header)) return { principal: anonymousPrincipal };
    const now = this.clock.now();
    const bearer = bearerOf(header);
    if (bearer === undefined) {
      const creds = parseBasicAuth(header);
      if (creds?.username === LOGIN_USERNAME && isReplicationToken(creds.password)) {
        if (!allow.replication) throw new AuthError('InvalidLoginToken', 'a replication token is presented on /v2, not exchanged for a Bearer token');
        return { principal: this.replicationPrincipal(req, creds.password, now) };
      }
    }
    let claims = this.verified.get(header);
    if (claims === undefined || claims.expiresAt.getTime() <= now.getTime()) {
      const opts = { now, keys: this.serverKeys, ...(this.region !== undefined && { region: this.region }) };
      claims = bearer === undefined ? verifyBasicLogin(header, opts) : verifyLoginToken(bearer, { ...opts, purpose: 'bearer' });
      if (this.verified.size >= MAX_VERIFIED_TOKENS) this.verified.clear();
      this.verified.set(header, claims);
    }
    if (claims.session !== undefined) return { principal: anonymousPrincipal, session: claims.session, claims };
    // Only a Bearer token can be anonymous: the token endpoint mints one for a caller with no credentials.
    if (bearer !== undefined && claims.principalArn === ANONYMOUS_TOKEN_ARN) return { principal: anonymousPrincipal, claims };
    const m = /^arn:aws:iam::(\d{12}):(root|user(\/.*\/|\/)([^/]+))$/.exec(claims.principalArn);
    if (!m) throw new AuthError('InvalidLoginToken', 'the login token names no principal');
    const principal: Principal =
      m[2] === 'root'
        ? { arn: claims.principalArn, accountId: claims.accountId, kind: 'root' }
        : { arn: claims.principalArn, accountId: claims.accountId, kind: 'user', userName: m[4]! };
    notePrincipal(req, principal);
    return { principal, claims };
  }

  /**
   * A peer region's replication push: the source account's root, limited (by the /v2 router)
   * to pushing into the one repository the token names, in this region only.
   */
  private replicationPrincipal(req: IncomingMessage, token: string, now: Date): Principal {
    const c = verifyReplicationToken(token, { now, keys: this.serverKeys });
    if (this.region !== undefined && c.destinationRegion !== this.region) throw new AuthError('InvalidLoginToken', 'Your authorization token is invalid.');
    const principal: Principal = {
      arn: rootArn(c.sourceAccountId),
      accountId: c.sourceAccountId,
      kind: 'root',
      replication: {
        sourceRegion: c.sourceRegion,
        destinationAccountId: c.destinationAccountId,
        destinationRegion: c.destinationRegion,
        repository: c.repository,
      },
    };
    notePrincipal(req, principal);
    return principal;
  }

  /**
   * Whether a SigV4 request names an active access key: only then is its body worth reading in
   * full before the signature (which covers the body's hash) can be checked. Anyone can send
   * a request; not anyone can make Berth buffer megabytes before it says no.
   */
  async namesActiveKey(req: IncomingMessage): Promise<boolean> {
    try {
      return (await this.signer({ headers: sigV4Headers(req), rawQuery: splitUrl(req.url ?? '/').rawQuery })) !== undefined;
    } catch {
      return false;
    }
  }
}

/**
 * The headers as SigV4 reads them. A header sent more than once keeps every value, for the
 * canonical request to join with ',' as the spec does: `req.headers` joins them with ', ', or
 * keeps only the first of Host, Content-Type, Authorization and a few more. Over `req.headers`,
 * so h2's Host taken from :authority (adoptAuthority) stays.
 */
export function sigV4Headers(req: IncomingMessage): HeaderMap {
  const values = new Map<string, string[]>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const list = values.get(name);
    if (list) list.push(raw[i + 1]!);
    else values.set(name, [raw[i + 1]!]);
  }
  const headers: HeaderMap = { ...req.headers };
  for (const [name, list] of values) if (list.length > 1) headers[name] = list;
  return headers;
}

/** Compared in constant time (over hashes, so lengths do not show either). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** `Basic Og==` (base64 of ":", an empty user and password) is how skopeo says "no credentials". */
function isEmptyBasic(header: string): boolean {
  const m = /^(\S+)\s+Og==\s*$/.exec(header);
  return m !== null && m[1]!.toLowerCase() === 'basic';
}

/** /v2 requests whose Bearer token was refused (expired, altered, foreign, its user gone). */
const REFUSED_BEARER = new WeakSet<IncomingMessage>();

/** Whether `req`'s Bearer token was refused, so its 401 says `error="invalid_token"` (RFC 6750 §3.1). */
export function refusedBearer(req: IncomingMessage): boolean {
  return REFUSED_BEARER.has(req);
}

/** The token of `Authorization: Bearer <token>`; '' when the scheme is Bearer with no token; undefined for any other scheme. */
function bearerOf(header: string): string | undefined {
  const m = /^bearer(?:[ \t]+(\S*))?[ \t]*$/i.exec(header);
  if (m) return m[1] ?? '';
  return /^bearer\b/i.test(header) ? '' : undefined;
}
