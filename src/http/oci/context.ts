/** What a /v2 handler receives for one request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../../auth/principal.js';
import type { Authorizer } from '../authz.js';
import type { RepoScope } from '../../registry/context.js';
import type { Registry } from '../../registry/registry.js';

export interface OciRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  registry: Registry;
  principal: Principal;
  authorizer: Authorizer;
  /** The registry (account and region) this request addresses. */
  registryId: string;
  log: Logger;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export function scopeOf(r: OciRequest, name: string): RepoScope {
  return { registryId: r.registryId, name };
}
