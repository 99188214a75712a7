/**
 * The token endpoint the Bearer challenge names (challenge.ts), as the distribution spec's token
 * service answers: GET with Basic credentials or none (docker, skopeo, the pull-through client),
 * or the OAuth2 form POST `grant_type=password&username&password` (containerd, when it holds
 * credentials). It exchanges a login (`AWS:<login token>`, as /v2 takes it) for a short-lived
 * Bearer token naming the same principal, and no credentials for an anonymous token that reads
 * public repositories only. The token carries no grant: every /v2 request is still authorized
 * by IAM as its principal, so `scope` is checked for form and bounds and otherwise unused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoginTokenClaims } from '../../auth/login-token.js';
import { Codes, RegistryError } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Authenticator } from '../authn.js';
import { noteOperation } from '../request-facts.js';
import { readBody } from '../request.js';
import { TOKEN_PATH } from './challenge.js';

/** Mints a Bearer token for a verified login, or an anonymous one (composition root: app.ts). */
export type BearerTokenIssuer = (login: LoginTokenClaims | undefined) => { token: string; expiresAt: Date; issuedAt: Date };

export interface TokenEndpointOptions {
  authenticator: Authenticator;
  bearerTokens: BearerTokenIssuer;
  registry: Registry;
}

/** A form is a few fields and one login token (at most 8192 characters). */
const MAX_FORM_BYTES = 16 * 1024;
const MAX_PARAMS = 32;
const MAX_SCOPES = 16;
/** Any value but the password (a login token); longer is no client's and is refused. */
const MAX_VALUE_CHARS = 1024;
const MAX_PASSWORD_CHARS = 8192;
/** `type[(class)]:name:actions`, as the spec's scope grammar writes it. */
const SCOPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?:[A-Za-z0-9._/-]{1,256}:(?:[a-z*]+(?:,[a-z*]+)*)?$/;

export function isTokenPath(path: string): boolean {
  return path === TOKEN_PATH || path === `${TOKEN_PATH}/`;
}

export async function routeToken(opts: TokenEndpointOptions, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  noteOperation(req, 'oci', 'token', { resource: undefined, params: {} });
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'POST') throw new RegistryError(Codes.MethodNotAllowed, `${method} is not supported here: GET or POST`);
  const { params, authorization } = method === 'GET' ? { params: url.searchParams, authorization: req.headers.authorization } : await formLogin(req);
  const scopes = checkParams(params);
  const { principal, claims } = await opts.authenticator.tokenLogin(req, authorization);
  // Anyone may ask: anonymous callers are rated per address, as anonymous /v2 reads are.
  opts.registry.apiRates?.take(principal.kind === 'anonymous' ? `anonymous:${req.socket.remoteAddress ?? ''}` : principal.accountId, 'GetAuthorizationToken');
  const { token, expiresAt, issuedAt } = opts.bearerTokens(claims);
  const body = JSON.stringify({
    token,
    access_token: token,
    expires_in: Math.max(1, Math.floor((expiresAt.getTime() - issuedAt.getTime()) / 1000)),
    issued_at: issuedAt.toISOString(),
    // The distribution spec's OAuth answer names the scope granted, "strictly" (RFC 6749 §5.1 only
    // when it differs from the request's). The token holds no grant (IAM decides each request), so
    // what is granted is what was asked, to be judged then.
    ...(method === 'POST' && scopes.length > 0 && { scope: scopes.join(' ') }),
  });
  // RFC 6749 §5.1: a token response is never cached.
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  });
  res.end(body);
}

/**
 * The OAuth2 form (RFC 6749 §4.3): only the password grant, whose user and password are the
 * Basic credentials /v2 takes. containerd falls back to GET on a 400, so a refresh-token grant
 * (Berth issues no refresh tokens) is refused with one.
 */
async function formLogin(req: IncomingMessage): Promise<{ params: URLSearchParams; authorization: string }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw invalid('a token POST is an application/x-www-form-urlencoded form');
  const body = await readBody(req, MAX_FORM_BYTES).catch((e: unknown) => {
    throw e instanceof RegistryError ? invalid(`the form exceeds ${MAX_FORM_BYTES} bytes`) : e;
  });
  const params = new URLSearchParams(body.toString('utf8'));
  const grant = params.get('grant_type');
  if (grant !== 'password') throw invalid(`grant_type ${JSON.stringify((grant ?? '').slice(0, 32))} is not supported: only "password"`);
  const username = params.get('username') ?? '';
  const password = params.get('password') ?? '';
  if (username === '' || password === '') throw new RegistryError(Codes.Unauthorized, 'the password grant needs a username and a password');
  if (password.length > MAX_PASSWORD_CHARS || username.includes(':')) throw new RegistryError(Codes.Unauthorized, 'Your authorization token is invalid.');
  return { params, authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

/** Bounds on what is asked, checked before any credential is: a hostile query is refused outright. The scopes asked for. */
function checkParams(params: URLSearchParams): string[] {
  let count = 0;
  const scopes: string[] = [];
  for (const [name, value] of params) {
    if (++count > MAX_PARAMS) throw invalid(`more than ${MAX_PARAMS} parameters`);
    const max = name === 'password' ? MAX_PASSWORD_CHARS : MAX_VALUE_CHARS;
    if (name.length > 64 || value.length > max) throw invalid(`the parameter ${JSON.stringify(name.slice(0, 64))} is longer than ${max} characters`);
    // GET repeats `scope`; the OAuth form joins scopes with spaces.
    if (name === 'scope') scopes.push(...value.split(' ').filter((s) => s !== ''));
  }
  if (scopes.length > MAX_SCOPES) throw invalid(`more than ${MAX_SCOPES} scopes`);
  for (const s of scopes) if (!SCOPE.test(s)) throw invalid(`the scope ${JSON.stringify(s.slice(0, 80))} is not type:name:actions`);
  const service = params.get('service');
  if (service !== null && !/^[A-Za-z0-9.:[\]-]{0,260}$/.test(service)) throw invalid('the service is not a host name');
  return scopes;
}

const invalid = (message: string) => new RegistryError(Codes.InvalidParameter, message);
