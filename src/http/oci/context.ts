/** What a /v2 handler receives for one request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../../auth/principal.js';
import { accountOf, regionOf, type RegistryKey } from '../../core/registry-key.js';
import type { Authorizer } from '../authz.js';
import type { RepoScope } from '../../registry/context.js';
import type { Registry } from '../../registry/registry.js';
import type { PullThroughCache } from '../../pullthrough/cache.js';
import { importAccess } from '../pull-through-access.js';
import { requestOrigin, type RequestOrigin } from '../condition-keys/global.js';

export interface OciRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  registry: Registry;
  principal: Principal;
  authorizer: Authorizer;
  /** The registry (account and region) this request addresses. */
  registryKey: RegistryKey;
  /** Set when the request addresses an account's public registry as `/v2/<alias>/<name>`. */
  publicAlias?: string;
  /**
   * What preceded the routed path after `/v2/` and is gone from it: the fallback's
   * `account--<id>/` (../registry-address.ts). Paths the answer gives back must carry it again.
   */
  pathPrefix?: string;
  log: Logger;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The pull-through cache, when the server has one: pulls of what the registry lacks may go upstream. */
  pullThrough?: PullThroughCache;
}

/** The pull-through cache for this request: none for a peer region's replication push, which only looks. */
export function pullThroughOf(r: OciRequest, scope: RepoScope): { cache: PullThroughCache; access: ReturnType<typeof importAccess> } | undefined {
  if (!r.pullThrough || r.principal.replication || r.publicAlias !== undefined) return undefined;
  return { cache: r.pullThrough, access: importAccess(r.authorizer, r.principal, r.req, scope) };
}

/** `/v2/...` as the client addresses it: the routed path with the request's prefix restored. */
export function v2Path(r: OciRequest, path: string): string {
  return `/v2/${r.pathPrefix ?? ''}${path}`;
}

/**
 * A mount's `from` repository: clients name it as they name the target, so with the fallback's
 * `account--<id>/` when the target has it (a mount never leaves the addressed registry).
 */
export function mountFrom(r: OciRequest): string | null {
  const from = r.url.searchParams.get('from');
  return from !== null && r.pathPrefix !== undefined && from.startsWith(r.pathPrefix) ? from.slice(r.pathPrefix.length) : from;
}

/** The repository a name in the path means: within a public registry, the name after the alias. */
export function scopeOf(r: OciRequest, name: string): RepoScope {
  const prefix = r.publicAlias === undefined ? undefined : `${r.publicAlias}/`;
  return { registryKey: r.registryKey, name: prefix !== undefined && name.startsWith(prefix) ? name.slice(prefix.length) : name };
}

/** What the authorizer's conditions read of a request: the registry it addresses, and where the request came from. */
export function requestConditions(r: OciRequest): { resourceAccountId: string; region: string; origin: RequestOrigin } {
  return { resourceAccountId: accountOf(r.registryKey), region: regionOf(r.registryKey), origin: requestOrigin(r.req) };
}
