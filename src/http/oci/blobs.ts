/** /v2/<name>/blobs/<digest>: HEAD, GET (with single ranges), DELETE. */
import { sendBody } from '../../core/direct-body.js';
import { parseDigest } from '../../core/digest.js';
import { parseRepositoryName } from '../../core/names.js';
import { Codes, RegistryError } from '../../core/errors.js';
import { parseRange } from '../request.js';
import { scopeOf, type OciRequest } from './context.js';
import { send } from './headers.js';

export async function headOrGetBlob(r: OciRequest, name: string, digestText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const digest = parseDigest(digestText);
  const blob = await r.registry.blobs.stat(scope, digest);
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
  const stream = await r.registry.blobs.open(scope, digest, range, r.signal);
  r.res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
  await sendBody(stream, r.res);
}

export async function deleteBlob(r: OciRequest, name: string, digestText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  await r.registry.blobs.delete(scope, parseDigest(digestText));
  send(r.res, 202);
}
