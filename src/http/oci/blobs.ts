/** /v2/<name>/blobs/<digest>: HEAD, GET (with single ranges), DELETE. */
import { pipeline } from 'node:stream/promises';
import { sendBody } from '../../core/direct-body.js';
import { parseDigest } from '../../core/digest.js';
import { parseRepositoryName } from '../../core/names.js';
import { Codes, isRegistryError, RegistryError } from '../../core/errors.js';
import type { Digest } from '../../core/digest.js';
import { parseRange } from '../request.js';
import { pullThroughOf, scopeOf, type OciRequest } from './context.js';
import type { FoundBlob } from '../../registry/blobs.js';
import type { PulledBlob } from '../../pullthrough/cache.js';
import { send } from './headers.js';
import { plainSocketFd } from '../plain-socket.js';
import { noteBytesSent } from '../request-facts.js';
import { noteResponseCut } from '../slow-clients.js';
import { holdBody } from '../download-hold.js';

export async function headOrGetBlob(r: OciRequest, name: string, digestText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const digest = parseDigest(digestText);
  let found: FoundBlob;
  try {
    found = await r.registry.blobs.find(scope, digest);
  } catch (e) {
    const cache = pullThroughOf(r, scope);
    if (!cache || !isRegistryError(e) || (e.code !== Codes.BlobUnknown && e.code !== Codes.NameUnknown)) throw e;
    const pulled = await cache.cache.blob(scope, digest, cache.access);
    if (!pulled) throw e;
    if (pulled.kind === 'streaming') return sendStreaming(r, digest, pulled);
    found = await r.registry.blobs.find(scope, digest);
  }
  const { blob } = found;
  const range = parseRange(r.req.headers.range, blob.size);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
  };
  if (range === 'unsatisfiable') {
    throw new RegistryError(Codes.RangeInvalid, 'requested range not satisfiable', undefined, { unsatisfiableRange: { size: blob.size } });
  }
  const status = range ? 206 : 200;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${blob.size}`;
  headers['Content-Length'] = range ? range.end - range.start + 1 : blob.size;
  if (r.req.method === 'HEAD' || blob.size === 0) {
    send(r.res, status, headers);
    return;
  }
  if (r.registry.ctx.limits.redirectBlobGets && !range) {
    const url = await r.registry.blobs.presignedUrl(scope, digest);
    if (url !== undefined) {
      send(r.res, 307, { 'Docker-Content-Digest': digest, Location: url });
      return;
    }
  }
  const stream = await r.registry.blobs.open(scope, digest, range, r.signal, found);
  const held = holdBody(r.registry.ctx.budgets?.blobs, stream, headers['Content-Length']);
  const release = typeof held === 'function' ? held : await held;
  try {
    r.res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    const socketFd = plainSocketFd(r.req, r.res);
    const target = socketFd === undefined ? undefined : { socketFd, sentPast: (n: number) => noteBytesSent(r.req, n), cut: () => noteResponseCut(r.req) };
    await sendBody(stream, r.res, target);
  } finally {
    release();
  }
}

/**
 * A blob the pull-through cache is fetching, from its spool as the bytes arrive: the whole blob
 * (a range is ignored, as HTTP allows), its length when the upstream said it. A fetch that fails
 * cuts the response short, so the client cannot take it for the blob. Inside the blob budget as
 * any other body: two of the spool reader's reads (its 64 KiB high-water mark) while the client
 * takes them; refused, the reader is let go (the fetch goes on for the registry's copy).
 */
async function sendStreaming(r: OciRequest, digest: Digest, pulled: Extract<PulledBlob, { kind: 'streaming' }>): Promise<void> {
  const headers: Record<string, string | number> = {
    'Docker-Distribution-API-Version': 'registry/2.0',
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    ETag: `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
    ...(pulled.size !== undefined && { 'Content-Length': pulled.size }),
  };
  if (r.req.method === 'HEAD') {
    pulled.body.destroy();
    r.res.writeHead(200, headers).end();
    return;
  }
  const held = holdBody(r.registry.ctx.budgets?.blobs, pulled.body, pulled.size ?? Number.MAX_SAFE_INTEGER);
  const release = typeof held === 'function' ? held : await held;
  try {
    r.res.writeHead(200, headers);
    await pipeline(pulled.body, r.res);
  } finally {
    release();
  }
}

export async function deleteBlob(r: OciRequest, name: string, digestText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  await r.registry.blobs.delete(scope, parseDigest(digestText));
  send(r.res, 202);
}
