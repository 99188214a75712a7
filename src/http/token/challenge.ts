/**
 * The WWW-Authenticate challenge a 401 on /v2 carries. By default a Bearer challenge naming the
 * token endpoint (endpoint.ts), as ECR Public answers: docker keeps the one challenge of its
 * `GET /v2/` ping for the whole host, and with a Basic challenge and no credentials it sends
 * nothing at all, so it could not pull a public repository anonymously. Offering Basic beside
 * Bearer fails the same way (docker applies every challenge it has a handler for). `basic` keeps
 * ECR's private-registry challenge for clients that cannot follow a token realm.
 */
import type { IncomingMessage } from 'node:http';
import { parseOciRoute } from '../oci/route.js';
import { externalScheme } from '../request.js';

export type ChallengeScheme = 'bearer' | 'basic';

/** Where the token endpoint answers; `/v2/token` would read as a /v2 path, and public.ecr.aws uses `/token/`. */
export const TOKEN_PATH = '/token';

/** A Host header fit to be quoted into a challenge: a DNS name or bracketed IPv6 literal, with an optional port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** A repository name as the distribution spec writes it (path components of lowercase alphanumerics and separators). */
const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const MAX_SCOPE_NAME = 256;

/**
 * The challenge ECR's private registries answer with, so clients know to send `AWS:<token>` as
 * Basic credentials. Its realm is quoted by the Bearer challenge's rule (serviceHost).
 */
export function basicChallenge(req: IncomingMessage, registryHost: string | undefined): string {
  return `Basic realm="${serviceHost(req, registryHost)}",service="ecr.amazonaws.com"`;
}

/**
 * The host clients reached this server by: the request's Host when it is a plain host[:port]
 * (so the realm is reachable from wherever the client is), else `registryHost`, else localhost.
 */
export function serviceHost(req: IncomingMessage, registryHost: string | undefined): string {
  const host = req.headers.host;
  return host !== undefined && PLAIN_HOST.test(host) ? host : (registryHost ?? 'localhost');
}

/** The token endpoint's absolute URL (the spec's realm must be one), on the scheme clients reach Berth by. */
export function tokenRealm(req: IncomingMessage, registryHost: string | undefined): string {
  return `${externalScheme(req)}://${serviceHost(req, registryHost)}${TOKEN_PATH}`;
}

/**
 * The scope a /v2 request needs (`repository:<name>:pull`, `...:pull,push` for anything but a
 * read, `registry:catalog:*`); undefined for the base route or a name that cannot be quoted.
 */
export function scopeOf(req: IncomingMessage, v2Path: string): string | undefined {
  let route: ReturnType<typeof parseOciRoute>;
  try {
    route = parseOciRoute(v2Path);
  } catch {
    return undefined;
  }
  if (route === undefined || route.kind === 'base') return undefined;
  if (route.kind === 'catalog') return 'registry:catalog:*';
  if (route.name.length > MAX_SCOPE_NAME || !REPOSITORY_NAME.test(route.name)) return undefined;
  const read = req.method === 'GET' || req.method === 'HEAD';
  return `repository:${route.name}:${read ? 'pull' : 'pull,push'}`;
}

/**
 * The challenge of a 401 on /v2 under `scheme`; `v2Path` is the path after `/v2/` as the client
 * sent it. `invalidToken`: the request's Bearer token was refused, which RFC 6750 §3.1 writes
 * `error="invalid_token"` (containerd fetches a new token and, refused again for the same
 * request, stops with that error rather than retrying; docker ignores the parameter).
 */
export function v2Challenge(req: IncomingMessage, v2Path: string, scheme: ChallengeScheme, registryHost: string | undefined, invalidToken = false): string {
  if (scheme === 'basic') return basicChallenge(req, registryHost);
  const scope = scopeOf(req, v2Path);
  const error = invalidToken ? ',error="invalid_token"' : '';
  return `Bearer realm="${tokenRealm(req, registryHost)}",service="${serviceHost(req, registryHost)}"${scope === undefined ? '' : `,scope="${scope}"`}${error}`;
}
