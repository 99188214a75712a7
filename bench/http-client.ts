/** Raw HTTP pushes and pulls of large blobs, streamed both ways, and a keep-alive request loop. */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Server } from './servers.js';

const CHUNK = randomBytes(1024 * 1024);

function send(
  server: Server,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: (write: (b: Buffer) => Promise<void>) => Promise<void>; agent?: Agent } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request(url, { method, headers: { ...server.headers, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const write = (b: Buffer) => new Promise<void>((r) => (req.write(b) ? r() : req.once('drain', () => r())));
    if (opts.body) opts.body(write).then(() => req.end(), reject);
    else req.end();
  });
}

/** Pushes `bytes` of fresh content as one streamed PATCH and a closing PUT; returns the digest. */
export async function pushBlob(server: Server, repo: string, bytes: number, salt: number): Promise<string> {
  const start = await send(server, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`${server.name}: POST upload answered ${start.status}`);
  const location = new URL(String(start.headers.location), server.url);
  const hash = createHash('sha256');
  const saltBuf = Buffer.alloc(8);
  saltBuf.writeDoubleLE(salt);
  const patch = await send(server, 'PATCH', location.pathname + location.search, {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: async (write) => {
      hash.update(saltBuf);
      await write(saltBuf);
      for (let sent = 0; sent < bytes; sent += CHUNK.length) {
        const piece = bytes - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, bytes - sent);
        hash.update(piece);
        await write(piece);
      }
    },
  });
  if (patch.status !== 202) throw new Error(`${server.name}: PATCH answered ${patch.status}`);
  const digest = `sha256:${hash.digest('hex')}`;
  const next = new URL(String(patch.headers.location), server.url);
  next.searchParams.set('digest', digest);
  const put = await send(server, 'PUT', next.pathname + next.search);
  if (put.status !== 201) throw new Error(`${server.name}: PUT answered ${put.status}`);
  return digest;
}

export async function pullBlob(server: Server, repo: string, digest: string): Promise<number> {
  const r = await send(server, 'GET', `/v2/${repo}/blobs/${digest}`);
  if (r.status !== 200) throw new Error(`${server.name}: GET blob answered ${r.status}`);
  return r.bytes;
}

const PULL_CLIENT = fileURLToPath(new URL('./pull-client.js', import.meta.url));

/**
 * Pulls the blobs one after the other from a small Node process of its own (pull-client.ts, which
 * says why): the bytes, the seconds from the first request to the last byte, that client's
 * CPU-seconds over the same span, and its socket reads (body 'data' events, or reads into the
 * reused buffer). `reader`: Node's HTTP client, or one buffer reused for every read
 * (reused-buffer-get.ts).
 */
export function pullBlobsApart(server: Server, repo: string, digests: string[], reader: 'node-http' | 'reused-buffer' = 'node-http'): Promise<PullApart> {
  const urls = digests.map((d) => new URL(`/v2/${repo}/blobs/${d}`, server.url).href);
  return pullUrlsApart(urls, server.headers, reader);
}

export interface PullApart {
  reader: string;
  bytes: number;
  seconds: number;
  clientCpu: number;
  clientReads: number;
}

/** pullBlobsApart for any URLs (the pull ceiling's bare server has no registry paths). */
export async function pullUrlsApart(urls: string[], headers: Record<string, string>, reader: 'node-http' | 'reused-buffer' = 'node-http'): Promise<PullApart> {
  const { stdout } = await promisify(execFile)(process.execPath, [PULL_CLIENT, `--reader=${reader}`, JSON.stringify(headers), ...urls]);
  const r = JSON.parse(stdout) as { reader: string; bytes: number; seconds: number; cpuSeconds: number; reads: number };
  return { reader: r.reader, bytes: r.bytes, seconds: r.seconds, clientCpu: r.cpuSeconds, clientReads: r.reads };
}

export async function putManifest(server: Server, repo: string, tag: string, manifest: string): Promise<void> {
  const r = await send(server, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: async (write) => write(Buffer.from(manifest)),
  });
  if (r.status !== 201) throw new Error(`${server.name}: PUT manifest answered ${r.status}`);
}

/** Requests/s of `connections` concurrent keep-alive loops over `seconds`; 2xx counts as done. */
export async function requestRate(
  server: Server,
  method: 'GET' | 'HEAD' | 'POST',
  path: string,
  opts: { connections: number; seconds: number; headers?: Record<string, string>; body?: string },
): Promise<{ perSecond: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const until = Date.now() + opts.seconds * 1000;
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const headers = { ...opts.headers, ...(body && { 'content-length': String(body.length) }) };
  let done = 0;
  let errors = 0;
  const loop = async () => {
    while (Date.now() < until) {
      const r = await send(server, method, path, { agent, headers, ...(body && { body: (write) => write(body) }) }).catch(() => ({ status: 0 }));
      if (r.status >= 200 && r.status < 300) done++;
      else errors++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: opts.connections }, loop));
  agent.destroy();
  return { perSecond: done / ((Date.now() - started) / 1000), errors };
}

/** A small image to read under load: one config, one layer, one manifest. */
export async function seedManifest(server: Server, repo = 'bench/load'): Promise<{ manifestPath: string; blobPath: string }> {
  const config = await pushBlob(server, repo, 512, 1);
  const layer = await pushBlob(server, repo, 64 * 1024, 2);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 520 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 64 * 1024 + 8 }],
  });
  await putManifest(server, repo, 'v1', manifest);
  return { manifestPath: `/v2/${repo}/manifests/v1`, blobPath: `/v2/${repo}/blobs/${layer}` };
}
