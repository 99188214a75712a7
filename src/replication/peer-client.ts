/**
 * The source's side of the replication wire: one destination repository reached over its
 * ordinary /v2 (OCI distribution), authenticated by a replication token. Blobs are streamed
 * from the source's store into a monolithic upload (POST, then PUT ?digest=), never held in
 * memory; manifests (bounded in size) are sent whole.
 *
 * Answers sort into two kinds: a refusal the destination will repeat (401, 403, most 4xx) is a
 * PeerRefusal, which fails the replication for good; anything else (no connection, a timeout,
 * 5xx, 429) is an ordinary error, and the job is retried with backoff.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../core/digest.js';

/** A destination that stalls this long mid-request is treated as down (the job is retried). */
const IDLE_TIMEOUT_MS = 60_000;
const MAX_ERROR_BODY = 4096;

/** A permanent refusal by the destination, with ECR-style failure code and the destination's reason. */
export class PeerRefusal extends Error {
  constructor(
    readonly failureCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeerRefusal';
  }
}

export interface PeerResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Keep-alive agents shared by every job of this process. */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export class PeerRepository {
  private readonly base: URL;

  constructor(
    endpoint: string,
    private readonly repository: string,
    private readonly token: string,
    readonly signal: AbortSignal,
  ) {
    this.base = new URL(endpoint);
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const r = await this.send('HEAD', `blobs/${digest}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.failure(r, 'blob check');
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    const r = await this.send('HEAD', `manifests/${digest}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.failure(r, 'manifest check');
  }

  /** Uploads a blob from `bytes` (size bytes, verified by the destination against `digest`). */
  async uploadBlob(digest: Digest, size: number, bytes: Readable): Promise<void> {
    try {
      const started = await this.send('POST', 'blobs/uploads/');
      if (started.status !== 202 || typeof started.headers.location !== 'string') throw this.failure(started, 'upload start');
      const location = new URL(started.headers.location, this.base);
      location.searchParams.set('digest', digest);
      const done = await this.send('PUT', location, { body: bytes, size, contentType: 'application/octet-stream' });
      if (done.status !== 201) throw this.failure(done, 'upload');
    } finally {
      bytes.destroy();
    }
  }

  /** PUT by digest, with the tags to point at it (OCI's ?tag=). */
  async putManifest(digest: Digest, mediaType: string, payload: Buffer, tags: readonly string[]): Promise<void> {
    const path = new URL(`/v2/${this.repository}/manifests/${digest}`, this.base);
    for (const t of tags) path.searchParams.append('tag', t);
    const r = await this.send('PUT', path, { body: payload, size: payload.length, contentType: mediaType });
    if (r.status !== 201) throw this.failure(r, 'manifest push');
  }

  private failure(r: PeerResponse, what: string): Error {
    const reason = describe(r);
    if (r.status >= 500 || r.status === 429 || r.status === 408) return new Error(`destination ${what} failed: ${r.status} ${reason}`);
    const code = /TAG_INVALID|TAG_IMMUTABLE|ImageTagAlreadyExists|cannot be overwritten/i.test(reason)
      ? 'TAG_IMMUTABLE'
      : r.status === 401
        ? 'UNAUTHORIZED'
        : r.status === 403
          ? 'ACCESS_DENIED'
          : 'REJECTED';
    return new PeerRefusal(code, `destination ${what} refused: ${r.status} ${reason}`);
  }

  private send(method: string, where: string | URL, upload?: { body: Readable | Buffer; size: number; contentType: string }): Promise<PeerResponse> {
    const url = typeof where === 'string' ? new URL(`/v2/${this.repository}/${where}`, this.base) : where;
    const https = url.protocol === 'https:';
    return new Promise<PeerResponse>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, {
        method,
        agent: https ? agents.https : agents.http,
        signal: this.signal,
        timeout: IDLE_TIMEOUT_MS,
        headers: {
          authorization: `Basic ${Buffer.from(`AWS:${this.token}`).toString('base64')}`,
          ...(upload ? { 'content-type': upload.contentType, 'content-length': String(upload.size) } : { 'content-length': '0' }),
          accept:
            'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
        },
      });
      req.on('timeout', () => req.destroy(new Error(`destination ${url.host} stalled`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < MAX_ERROR_BODY) chunks.push(c);
          kept += c.length;
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      if (!upload) req.end();
      else if (Buffer.isBuffer(upload.body)) req.end(upload.body);
      // A failed pipe destroys the request, whose 'error' rejects; a refusal mid-body still answers.
      else pipeline(upload.body, req).catch(() => undefined);
    });
  }
}

function describe(r: PeerResponse): string {
  const text = r.body.toString('utf8').slice(0, MAX_ERROR_BODY);
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = parsed.errors?.[0];
    if (e) return `${e.code ?? ''}: ${e.message ?? ''}`;
  } catch {
    // not JSON
  }
  return text;
}
