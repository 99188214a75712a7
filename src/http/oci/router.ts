/** Dispatches a /v2 request to its handler by route and method. */
import { Codes, RegistryError } from '../../core/errors.js';
import { headOrGetBlob, deleteBlob } from './blobs.js';
import type { OciRequest } from './context.js';
import { sendJson } from './headers.js';
import { catalog, listTags, referrers } from './listings.js';
import { deleteManifest, headOrGetManifest, putManifest } from './manifests.js';
import { parseOciRoute, type OciRoute } from './route.js';
import { deleteUpload, getUpload, patchUpload, putUpload, startUpload } from './uploads.js';

type Handler = (r: OciRequest) => Promise<void>;

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

/** `path` is the part after `/v2/`. */
export async function routeOci(r: OciRequest, path: string): Promise<void> {
  const route = parseOciRoute(path);
  if (!route) throw new RegistryError(Codes.NotFound, 'no such endpoint');
  const handler = handlerFor(route, r.req.method ?? 'GET');
  if (!handler) throw new RegistryError(Codes.MethodNotAllowed, `${r.req.method} is not supported here`);
  await handler(r);
}
