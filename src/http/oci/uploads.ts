/**
 * /v2/<name>/blobs/uploads/[<id>]: start (with monolithic and mount forms), PATCH (streamed or
 * chunked), status, PUT to complete, DELETE to cancel. Protocol parsing only; the rules are in
 * registry/uploads.ts.
 */
import { parseDigest } from '../../core/digest.js';
import { Codes, RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';
import { contentLength, hasBody, parseChunkRange } from '../request.js';
import { mountFrom, scopeOf, type OciRequest } from './context.js';
import { layerReader } from './layer-readers.js';
import { repoPath, send } from './headers.js';

function uploadHeaders(r: OciRequest, name: string, id: string, size: number): Record<string, string | number> {
  return {
    Location: repoPath(r.pathPrefix, name, 'blobs', 'uploads', id),
    // The spec's Range is inclusive; an empty upload has no last byte, and clients expect 0-0.
    Range: `0-${Math.max(0, size - 1)}`,
    'Docker-Upload-UUID': id,
  };
}

function sendCreated(r: OciRequest, name: string, digest: string): void {
  send(r.res, 201, { Location: repoPath(r.pathPrefix, name, 'blobs', digest), 'Docker-Content-Digest': digest });
}

/** The chunk options from Content-Range and Content-Length, checked against each other. */
function chunkOptions(r: OciRequest): { start?: number; signal: AbortSignal } {
  const range = parseChunkRange(r.req.headers['content-range']);
  if (!range) return { signal: r.signal };
  const length = contentLength(r.req);
  if (length !== undefined && length !== range.end - range.start + 1) {
    throw new RegistryError(Codes.SizeInvalid, 'Content-Range does not match Content-Length', {
      contentRange: r.req.headers['content-range'],
      contentLength: length,
    });
  }
  return { start: range.start, signal: r.signal };
}

/**
 * The `digest` query parameter, or null. The spec lets a client send several and a registry
 * verify "none or all of them": Berth verifies one, so several that differ are refused rather
 * than all but the first ignored (content that matched the first would pass a second it never met).
 */
function digestParam(r: OciRequest): string | null {
  const all = r.url.searchParams.getAll('digest');
  if (all.some((d) => d !== all[0])) {
    throw new RegistryError(Codes.DigestInvalid, 'the digest parameters differ: send one digest', { digests: all.slice(0, 10) });
  }
  return all[0] ?? null;
}

export async function startUpload(r: OciRequest, name: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const q = r.url.searchParams;
  const mount = q.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    const fromName = mountFrom(r);
    const from = fromName === null ? undefined : scopeOf(r, parseRepositoryName(fromName));
    const mayRead = layerReader(r, scope.registryKey);
    // A source the caller may not read mounts nothing: an upload session (202), the same answer
    // as for a blob the source lacks, so it tells nothing of the blob. A 403 here failed
    // containerd's pushes: it names the repository it pulled from and drops the mount only on 401.
    const mounted = (from === undefined || (await mayRead(from.name))) && (await r.registry.blobs.mount(scope, digest, from, mayRead));
    if (mounted) {
      sendCreated(r, name, digest);
      return;
    }
    // Not mountable: the spec says to fall back to an ordinary upload session.
  }
  const digestText = digestParam(r);
  if (digestText !== null && mount === null) {
    const digest = parseDigest(digestText);
    await r.registry.uploads.monolithic(scope, digest, r.req, r.signal);
    sendCreated(r, name, digest);
    return;
  }
  const { id, size } = await r.registry.uploads.start(scope);
  send(r.res, 202, uploadHeaders(r, name, id, size));
}

export async function patchUpload(r: OciRequest, name: string, id: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const status = await r.registry.uploads.append(scope, id, r.req, chunkOptions(r));
  send(r.res, 202, uploadHeaders(r, name, id, status.size));
}

export async function putUpload(r: OciRequest, name: string, id: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const digestText = digestParam(r);
  if (digestText === null) throw new RegistryError(Codes.DigestInvalid, 'the digest query parameter is required');
  const digest = parseDigest(digestText);
  const body = hasBody(r.req) ? r.req : undefined;
  await r.registry.uploads.complete(scope, id, digest, body, chunkOptions(r));
  sendCreated(r, name, digest);
}

export async function getUpload(r: OciRequest, name: string, id: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const status = await r.registry.uploads.status(scope, id);
  send(r.res, 204, uploadHeaders(r, name, id, status.size));
}

export async function deleteUpload(r: OciRequest, name: string, id: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  await r.registry.uploads.cancel(scope, id);
  send(r.res, 204);
}
