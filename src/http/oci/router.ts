/** Dispatches a /v2 request to its handler by route and method. */
import type { IncomingMessage } from 'node:http';
import { PUBLIC_REGION } from '../../core/arns.js';
import { Codes, isRegistryError, RegistryError } from '../../core/errors.js';
import { OCI_ACTIONS, uploadBodyActions, type OciOperation } from '../../iam/oci-actions.js';
import { noteDenied, noteOperation } from '../request-facts.js';
import { hasBody } from '../request.js';
import { AccessDenied } from '../authz.js';
import { headOrGetBlob, deleteBlob } from './blobs.js';
import { requestConditions, scopeOf, type OciRequest } from './context.js';
import { sendJson } from './headers.js';
import { catalog, listTags, referrers } from './listings.js';
import { deleteManifest, headOrGetManifest, putManifest } from './manifests.js';
import { parseOciRoute, type OciRoute } from './route.js';
import { deleteUpload, getUpload, patchUpload, putUpload, startUpload } from './uploads.js';
import { regionOf } from '../../core/registry-key.js';
import { createReplicaRepository } from '../../registry/replication.js';

type Handler = (r: OciRequest) => Promise<void>;

/** Every method some /v2 route answers, in the order a 405's Allow lists them. */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const PUBLIC_READS: ReadonlySet<OciOperation> = new Set(['manifest-read', 'blob-read', 'blob-head', 'tags', 'referrers']);

function handlerFor(route: OciRoute, method: string): Handler | undefined {
  const read = method === 'GET' || method === 'HEAD';
  switch (route.kind) {
    case 'base':
      return read ? async (r) => sendJson(r.res, 200, {}) : undefined;
    case 'catalog':
      return method === 'GET' ? catalog : undefined;
    case 'tags':
      return method === 'GET' ? (r) => listTags(r, route.name) : undefined;
    case 'referrers':
      return method === 'GET' ? (r) => referrers(r, route.name, route.digest) : undefined;
    case 'manifest':
      if (read) return (r) => headOrGetManifest(r, route.name, route.reference);
      if (method === 'PUT') return (r) => putManifest(r, route.name, route.reference);
      if (method === 'DELETE') return (r) => deleteManifest(r, route.name, route.reference);
      return undefined;
    case 'blob':
      if (read) return (r) => headOrGetBlob(r, route.name, route.digest);
      if (method === 'DELETE') return (r) => deleteBlob(r, route.name, route.digest);
      return undefined;
    case 'uploads':
      return method === 'POST' ? (r) => startUpload(r, route.name) : undefined;
    case 'upload':
      if (method === 'GET') return (r) => getUpload(r, route.name, route.id);
      if (method === 'PATCH') return (r) => patchUpload(r, route.name, route.id);
      if (method === 'PUT') return (r) => putUpload(r, route.name, route.id);
      if (method === 'DELETE') return (r) => deleteUpload(r, route.name, route.id);
      return undefined;
  }
}

function operationOf(route: OciRoute, method: string): OciOperation {
  switch (route.kind) {
    case 'base':
    case 'catalog':
    case 'tags':
    case 'referrers':
      return route.kind;
    case 'manifest':
      return method === 'PUT' ? 'manifest-write' : method === 'DELETE' ? 'manifest-delete' : 'manifest-read';
    case 'blob':
      return method === 'DELETE' ? 'blob-delete' : method === 'HEAD' ? 'blob-head' : 'blob-read';
    case 'uploads':
      return 'upload-start';
    case 'upload':
      return method === 'PUT' ? 'upload-complete' : method === 'PATCH' ? 'upload-write' : method === 'DELETE' ? 'upload-cancel' : 'upload-read';
  }
}

/**
 * Checks every ECR action the request is. A mount's source is not checked here: one the caller may
 * not read is no mount, and the upload starts instead (uploads.ts), as the spec's fallback says.
 */
async function authorize(r: OciRequest, route: OciRoute, method: string): Promise<void> {
  const region = regionOf(r.registryKey);
  const operation = operationOf(route, method);
  if (r.principal.replication) return authorizeReplication(r, route, operation, method);
  const isPublic = region === PUBLIC_REGION;
  // Anyone may read a public repository; writing it takes the ecr-public actions.
  if (isPublic && PUBLIC_READS.has(operation)) return;
  if (r.principal.kind === 'anonymous') throw new RegistryError(Codes.Unauthorized, 'authentication required');
  const checks: Array<[string, string]> = [];
  const name = 'name' in route ? scopeOf(r, route.name).name : '*';
  const q = r.url.searchParams;
  // The handlers' own test of a body (request.ts): an h2 body may come with no Content-Length.
  const carried = uploadBodyActions(operation, { monolithic: q.get('digest') !== null && q.get('mount') === null, body: hasBody(r.req) });
  for (const action of [...OCI_ACTIONS[operation], ...carried]) checks.push([isPublic ? action.replace(/^ecr:/, 'ecr-public:') : action, name]);
  try {
    for (const [action, repo] of checks) {
      await r.authorizer.check(r.principal, { action, repository: repo, ...requestConditions(r), createsOnPush: true });
    }
  } catch (e) {
    if (e instanceof AccessDenied) {
      noteDenied(r.req, e.action, e.resource);
      throw new RegistryError(Codes.Denied, e.message);
    }
    throw e;
  }
}

/** What a replication push may do: look for and upload blobs, look for and push manifests. */
const REPLICATION_OPERATIONS: ReadonlySet<OciOperation> = new Set([
  'base',
  'blob-head',
  'upload-start',
  'upload-write',
  'upload-complete',
  'upload-read',
  'upload-cancel',
  'manifest-read',
  'manifest-write',
]);

/**
 * A peer region's replication push, judged by this registry's own policies as ECR judges its
 * replication: ecr:ReplicateImage on the repository (within the account: allowed unless denied;
 * from another account: only when the registry policy allows the source account), and
 * ecr:CreateRepository too when the repository must be created. Only the repository the token
 * names, only the operations of a push, and no mounts (which would read other repositories).
 */
async function authorizeReplication(r: OciRequest, route: OciRoute, operation: OciOperation, method: string): Promise<void> {
  const scope = r.principal.replication!;
  if (operation === 'base') return;
  const name = 'name' in route ? route.name : undefined;
  const denied = (why: string) => {
    noteDenied(r.req, 'ecr:ReplicateImage', name ?? '*');
    return new RegistryError(Codes.Denied, why);
  };
  // HEAD only, for manifests: a replication looks for what is there, it reads nothing.
  const reads = operation === 'manifest-read' && method !== 'HEAD';
  if (!REPLICATION_OPERATIONS.has(operation) || reads || name !== scope.repository || r.url.searchParams.get('mount') !== null) {
    throw denied(`a replication token of ${r.principal.accountId} admits only pushes into ${scope.repository}`);
  }
  const target = { repository: name, ...requestConditions(r) };
  try {
    await r.authorizer.check(r.principal, { ...target, action: 'ecr:ReplicateImage' });
    const repo = { registryKey: r.registryKey, name };
    if (!(await r.registry.repositories.exists(repo))) {
      await r.authorizer.check(r.principal, { ...target, action: 'ecr:CreateRepository' });
      await createReplicaRepository(r.registry, repo);
    }
  } catch (e) {
    if (e instanceof AccessDenied) {
      noteDenied(r.req, e.action, e.resource);
      throw new RegistryError(Codes.Denied, e.message);
    }
    throw e;
  }
}

/**
 * Notes which operation a /v2 request is, before anything can refuse it (addressing, a missing
 * login), so every answer's observers know what was asked. `path` is the part after `/v2/`.
 */
export function noteOciOperation(req: IncomingMessage, path: string): OciRoute | undefined {
  const route = parseOciRoute(path);
  if (!route) return undefined;
  const { kind: _kind, ...params } = route;
  noteOperation(req, 'oci', operationOf(route, req.method ?? 'GET'), { resource: 'name' in route ? route.name : undefined, params });
  return route;
}

/**
 * `path` is the part after `/v2/`; `parsed`, its route as noteOciOperation returned it (parsed
 * once a request: decoding the path twice was most of the noting's cost).
 */
export async function routeOci(r: OciRequest, path: string, parsed?: OciRoute): Promise<void> {
  const route = parsed ?? parseOciRoute(path);
  if (!route) throw new RegistryError(Codes.NotFound, 'no such endpoint');
  const method = r.req.method ?? 'GET';
  const handler = handlerFor(route, method);
  const allowedMethods = () => ROUTE_METHODS.filter((m) => m !== method && handlerFor(route, m));
  if (!handler) throw new RegistryError(Codes.MethodNotAllowed, `${r.req.method} is not supported here`, undefined, { allowedMethods: allowedMethods() });
  if (r.registry.apiRates) {
    // /v2 calls are ECR's API calls behind its proxy: each counts against its operation's rate.
    const op = OCI_ACTIONS[operationOf(route, method)][0]?.slice('ecr:'.length);
    if (op) r.registry.apiRates.take(r.principal.kind === 'anonymous' ? `anonymous:${r.req.socket.remoteAddress ?? ''}` : r.principal.accountId, op);
  }
  await authorize(r, route, method);
  try {
    await handler(r);
  } catch (e) {
    // A 405 the registry decides (deletes turned off) names, as any 405 must, what the route still answers.
    if (isRegistryError(e) && e.code === Codes.MethodNotAllowed && !e.hints.allowedMethods) {
      throw new RegistryError(e.code, e.message, e.detail, { ...e.hints, allowedMethods: allowedMethods() });
    }
    throw e;
  }
}
