/**
 * How docker-compatible clients address one account's private registry over /v2, both ways: which
 * account a request's Host and path name, and the address (host and path prefix) that answers
 * give out in repository URIs, proxy endpoints and download URLs.
 *
 * As on ECR (`<account>.dkr.ecr.<region>.amazonaws.com`), the host picks the registry: with
 * `registryHost` set, `<account>.<registryHost>` is that account's registry and the bare
 * `registryHost` the caller's own. Set-ups that cannot add DNS names use the fallback
 * `/v2/account--<account>/<name>`: `--` is legal in a docker reference but not in an ECR
 * repository name, and Berth reserves first components starting `account--` (core/names.ts), so
 * the form never shadows a repository, nor the public form `/v2/<account-id>/<name>`.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { ACCOUNT_PATH_PREFIX } from '../core/names.js';

/** A DNS name is at most 253 characters; with `:port` and slack, anything longer is hostile. */
const MAX_HOST_CHARS = 260;
const ACCOUNT_RE = /^\d{12}$/;
const FALLBACK_RE = new RegExp(`^${ACCOUNT_PATH_PREFIX}(\\d{12})(?:/(.*))?$`);

/** What a /v2 request names before authentication: another account's registry, or none (the default). */
export interface V2Target {
  /** The account whose private registry the host or path names; undefined when neither names one. */
  accountId?: string;
  /** The path after `/v2/`, without the fallback's `account--<id>/` component. */
  path: string;
  /** The fallback's `account--<id>/` when the path began with it. */
  prefix?: string;
}

/** The hostname of a Host header or `registryHost`, lowercased and without the port. */
function hostnameOf(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The account a Host header names as `<account>.<registryHost>`. The bare `registryHost`, and any
 * host that is not under it (an IP address, another name for the same server), name no account:
 * they address the caller's own registry, as before account hosts existed. A name under
 * `registryHost` whose first label is not an account id addresses no registry at all.
 */
export function accountOfHost(host: string | undefined, registryHost: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  if (host.length > MAX_HOST_CHARS) throw new RegistryError(Codes.InvalidParameter, 'the Host header is too long');
  if (registryHost === undefined) return undefined;
  const name = hostnameOf(host);
  const base = hostnameOf(registryHost);
  if (name === base || !name.endsWith(`.${base}`)) return undefined;
  const label = name.slice(0, -(base.length + 1));
  if (!ACCOUNT_RE.test(label)) {
    throw new RegistryError(Codes.NotFound, `no registry at this host: '${label.slice(0, 64)}' is not a 12-digit account id`);
  }
  return label;
}

/** Which account a /v2 request names (by host or by the fallback path form), and the path left to route. */
export function v2Target(host: string | undefined, path: string, registryHost: string | undefined): V2Target {
  const byHost = accountOfHost(host, registryHost);
  const m = FALLBACK_RE.exec(path);
  if (!m) return { ...(byHost !== undefined && { accountId: byHost }), path };
  if (byHost !== undefined) throw new RegistryError(Codes.NotFound, 'the host and the path both name an account; use one');
  return { accountId: m[1]!, path: m[2] ?? '', prefix: `${ACCOUNT_PATH_PREFIX}${m[1]}/` };
}

/** Where clients reach one account's private registry: `host` for the reference, `prefix` before the repository name. */
export interface V2Location {
  host: string;
  prefix: string;
}

/**
 * The address of `accountId`'s private registry for a caller of `callerAccountId`: the account's
 * host under `registryHost` when set; else the request's host, with the fallback path prefix
 * when the registry is not the caller's own.
 */
export function v2Location(accountId: string, callerAccountId: string, registryHost: string | undefined, requestHost: string): V2Location {
  if (registryHost !== undefined) return { host: `${accountId}.${registryHost}`, prefix: '' };
  return { host: requestHost, prefix: accountId === callerAccountId ? '' : `${ACCOUNT_PATH_PREFIX}${accountId}/` };
}
