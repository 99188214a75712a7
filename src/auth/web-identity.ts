/**
 * AssumeRoleWithWebIdentity's verification: a JWT from an OIDC issuer registered as a provider
 * (`aws iam create-open-id-connect-provider`) in the role's account, signed by a key the issuer
 * publishes (discovery at `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`),
 * within its validity (exp/nbf/iat, with a minute of clock skew), for an audience the provider
 * lists. The claims then meet the trust policy as `<issuer without scheme>:sub` / `:aud`.
 *
 * Only registered issuers are ever fetched (the provider is looked up before anything goes on the
 * wire), over https or http on loopback, with a timeout, no redirects and a size bound. Key sets
 * are cached for an hour; a token naming an unknown `kid` refetches (a key rotation) at most
 * a few times a minute per issuer, so a flood of made-up kids cannot make Berth hammer an issuer.
 */
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import { IdentityError } from './identity-admin.js';
import { JwtError, parseJwt, publicKeyFromJwk, verifyJwtSignature, type JwsAlg } from './jwt.js';
import { isLoopbackHost, oidcProviderArn, type RoleAdmin } from './role-admin.js';
import type { AssumedRole, SecurityTokenService } from './sts.js';
import type { KeyObject } from 'node:crypto';

const CLOCK_SKEW_MS = 60_000;
const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';
const TAGS_CLAIM = 'https://aws.amazon.com/tags';
const JWKS_TTL_MS = 3600_000;
const REFETCH_WINDOW_MS = 60_000;
const MAX_REFETCHES_PER_WINDOW = 5;
const FETCH_TIMEOUT_MS = 5000;
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_CACHED_ISSUERS = 1000;

export type Fetcher = (url: string, init: { signal: AbortSignal; redirect: 'error'; headers: Record<string, string> }) => Promise<Response>;

interface KeySet {
  keys: Array<{ kid?: string; key: KeyObject; alg: JwsAlg }>;
  fetchedAt: number;
  refetches: number[];
  inflight?: Promise<void>;
}

export interface WebIdentityRequest {
  token: string;
  roleArn: string;
  sessionName: string;
  durationSeconds?: number;
  policy?: string;
  /** Managed session policies (PolicyArns). */
  policyArns?: string[];
  /** The request's condition keys (the global ones); the token's claims join them. */
  context?: Record<string, string | string[] | undefined>;
}

const invalid = (message: string) => new IdentityError(IamCodes.InvalidIdentityToken, message);

export class WebIdentityVerifier {
  private readonly keySets = new Map<string, KeySet>();

  constructor(
    private readonly roles: RoleAdmin,
    private readonly sts: SecurityTokenService,
    private readonly clock: Clock,
    private readonly fetcher: Fetcher = (url, init) => fetch(url, init),
  ) {}

  async assumeRole(req: WebIdentityRequest): Promise<{ assumed: AssumedRole; subject: string; audience: string; provider: string }> {
    let jwt: ReturnType<typeof parseJwt>;
    try {
      jwt = parseJwt(req.token);
    } catch (e) {
      if (e instanceof JwtError) throw invalid(e.message);
      throw e;
    }
    const { claims } = jwt;
    const account = /^arn:aws:iam::(\d{12}):role\//.exec(req.roleArn)?.[1];
    if (account === undefined) throw new IdentityError(IamCodes.Validation, `${req.roleArn.slice(0, 300)} is invalid`);
    if (typeof claims.iss !== 'string') throw invalid('the token has no issuer (iss)');
    const provider = await this.roles.oidcProviderForIssuer(account, claims.iss);
    if (!provider) throw invalid(`No OpenIDConnect provider found in your account for ${claims.iss.slice(0, 300)}`);

    const key = await this.keyFor(provider.url, jwt.header.kid, jwt.header.alg);
    if (!key || !verifyJwtSignature(jwt, key)) throw invalid('The web identity token that was passed could not be validated: bad signature.');

    const now = this.clock.now().getTime();
    const seconds = (name: string): number | undefined => {
      const v = claims[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`the token's ${name} is not a number`);
      return v * 1000;
    };
    const exp = seconds('exp');
    if (exp === undefined) throw invalid('the token has no expiry (exp)');
    if (now - CLOCK_SKEW_MS >= exp) throw new IdentityError(IamCodes.WebIdentityExpired, 'Token is expired.');
    const nbf = seconds('nbf');
    const iat = seconds('iat');
    if ((nbf !== undefined && nbf > now + CLOCK_SKEW_MS) || (iat !== undefined && iat > now + CLOCK_SKEW_MS)) throw invalid('the token is not valid yet');

    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a) => typeof a === 'string') : [];
    const audience = audiences.find((a) => provider.clientIds.includes(a));
    if (audience === undefined) throw invalid('Incorrect token audience');
    if (typeof claims.sub !== 'string' || claims.sub === '') throw invalid('the token has no subject (sub)');

    // The IdP sets a source identity with this claim (IAM's "Monitor and control actions taken with assumed roles").
    const sourceIdentity = claims[SOURCE_IDENTITY_CLAIM];
    if (sourceIdentity !== undefined && (typeof sourceIdentity !== 'string' || !/^[\w+=,.@-]{2,64}$/.test(sourceIdentity))) {
      throw invalid(`the token's ${SOURCE_IDENTITY_CLAIM} is not a source identity (2 to 64 of [\\w+=,.@-])`);
    }
    // OIDC Core: amr is a list of strings. Anything else would reach the trust policy's conditions
    // as values no condition expects (a list inside the list matched `StringLike` as its text).
    const amr = claims.amr;
    if (amr !== undefined && typeof amr !== 'string' && !(Array.isArray(amr) && amr.every((m) => typeof m === 'string'))) {
      throw invalid("the token's amr is not a list of strings");
    }
    const host = provider.url.replace(/^https?:\/\//, '');
    const providerArn = oidcProviderArn(provider.accountId, provider.url);
    const context: Record<string, string | string[] | undefined> = {
      ...req.context,
      [`${host}:sub`]: claims.sub,
      [`${host}:aud`]: audience,
      [`${host}:oaud`]: audiences,
      ...(amr !== undefined && { [`${host}:amr`]: amr as string | string[] }),
    };
    const assumed = await this.sts.assumeRoleAsWebIdentity(providerArn, context, {
      roleArn: req.roleArn,
      sessionName: req.sessionName,
      ...(req.durationSeconds !== undefined && { durationSeconds: req.durationSeconds }),
      ...(req.policy !== undefined && { policy: req.policy }),
      ...(req.policyArns !== undefined && { policyArns: req.policyArns }),
      ...(sourceIdentity !== undefined && { sourceIdentity }),
      ...tagsClaim(claims[TAGS_CLAIM]),
    });
    return { assumed, subject: claims.sub, audience, provider: host };
  }

  /** The issuer's key for a token, fetching the key set when not cached, stale, or (bounded) missing the kid. */
  private async keyFor(issuer: string, kid: string | undefined, alg: JwsAlg): Promise<KeySet['keys'][number] | undefined> {
    const pick = (set: KeySet) => set.keys.find((k) => k.alg === alg && (kid === undefined || k.kid === kid));
    const now = this.clock.now().getTime();
    let set = this.keySets.get(issuer);
    if (!set || now - set.fetchedAt > JWKS_TTL_MS) {
      set = await this.refresh(issuer, set);
      return pick(set);
    }
    const found = pick(set);
    if (found) return found;
    set.refetches = set.refetches.filter((t) => now - t < REFETCH_WINDOW_MS);
    if (set.refetches.length >= MAX_REFETCHES_PER_WINDOW) return undefined;
    set.refetches.push(now);
    return pick(await this.refresh(issuer, set));
  }

  private async refresh(issuer: string, previous: KeySet | undefined): Promise<KeySet> {
    // One fetch at a time per issuer: concurrent tokens wait for the same answer.
    if (previous?.inflight) {
      await previous.inflight;
      return this.keySets.get(issuer) ?? previous;
    }
    const set: KeySet = previous ?? { keys: [], fetchedAt: 0, refetches: [] };
    set.inflight = (async () => {
      const keys = await this.fetchKeys(issuer);
      set.keys = keys;
      set.fetchedAt = this.clock.now().getTime();
    })();
    try {
      await set.inflight;
    } finally {
      delete set.inflight;
    }
    if (!this.keySets.has(issuer) && this.keySets.size >= MAX_CACHED_ISSUERS) this.keySets.clear();
    this.keySets.set(issuer, set);
    return set;
  }

  private async fetchKeys(issuer: string): Promise<KeySet['keys']> {
    const discovery = await this.fetchJson(`${issuer}/.well-known/openid-configuration`);
    if (discovery.issuer !== issuer && discovery.issuer !== `${issuer}/`) {
      throw new IdentityError(IamCodes.IdpCommunicationError, "The issuer's discovery document names another issuer.");
    }
    const jwksUri = discovery.jwks_uri;
    if (typeof jwksUri !== 'string' || !allowedUrl(jwksUri)) {
      throw new IdentityError(IamCodes.IdpCommunicationError, "The issuer's jwks_uri is missing or not an https URL.");
    }
    const jwks = await this.fetchJson(jwksUri);
    if (!Array.isArray(jwks.keys)) throw new IdentityError(IamCodes.IdpCommunicationError, "The issuer's key set has no keys.");
    const out: KeySet['keys'] = [];
    for (const k of jwks.keys.slice(0, 100) as unknown[]) {
      if (typeof k !== 'object' || k === null) continue;
      const jwk = k as Record<string, unknown>;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      const key = publicKeyFromJwk(jwk);
      if (key) out.push({ ...key, ...(typeof jwk.kid === 'string' && { kid: jwk.kid }) });
    }
    return out;
  }

  private async fetchJson(url: string): Promise<Record<string, unknown>> {
    const failed = (why: string) => new IdentityError(IamCodes.IdpCommunicationError, `Couldn't retrieve verification key from your identity provider: ${why}`);
    let res: Response;
    try {
      res = await this.fetcher(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } });
    } catch {
      throw failed('the request failed');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw failed(`HTTP ${res.status}`);
    }
    const text = await readLimited(res, MAX_DOCUMENT_BYTES).catch(() => undefined);
    if (text === undefined) throw failed('the answer is too large');
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {}
    throw failed('the answer is not a JSON object');
  }
}

function allowedUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  } catch {
    return false;
  }
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw new Error('too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The session tags a token carries (IAM's "Passing session tags using AssumeRoleWithWebIdentity"):
 * `{"principal_tags": {"<key>": ["<value>"]}, "transitive_tag_keys": ["<key>"]}`. They need
 * sts:TagSession in the trust policy as AssumeRole's do (sts.ts); a claim of another shape is refused.
 */
function tagsClaim(v: unknown): { tags?: Array<{ Key: string; Value: string }>; transitiveTagKeys?: string[] } {
  if (v === undefined) return {};
  const bad = () => invalid(`the token's ${TAGS_CLAIM} claim is not {"principal_tags": {"<key>": ["<value>"]}, "transitive_tag_keys": ["<key>"]}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad();
  const { principal_tags: tags = {}, transitive_tag_keys: transitive = [] } = v as Record<string, unknown>;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags) || !Array.isArray(transitive)) throw bad();
  const out: Array<{ Key: string; Value: string }> = [];
  for (const [Key, value] of Object.entries(tags)) {
    const Value = Array.isArray(value) && value.length === 1 ? value[0] : value;
    if (typeof Value !== 'string') throw bad();
    out.push({ Key, Value });
  }
  if (transitive.some((k) => typeof k !== 'string')) throw bad();
  return { ...(out.length > 0 && { tags: out }), ...(transitive.length > 0 && { transitiveTagKeys: transitive as string[] }) };
}
