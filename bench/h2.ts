/**
 * HTTP/2 against HTTP/1.1 on the same HTTPS port (`BENCH_ENTRY=h2 bash bench/run.sh`): manifest
 * GETs per second (HTTP/1.1: 16 kept-alive connections; h2: one session, 16 streams at a time, as
 * Go clients multiplex) and the time of one 256 MiB blob GET and PUT on one connection each way,
 * alternated and repeated, with the ratios. The h2 client announces Go's windows (4 MiB per
 * stream, 1 GiB per connection), as a registry client would. Loopback: no latency, so this
 * measures protocol cost, not the gains of multiplexing over a real network.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cliPath, startBerth, tempDir } from '../test/e2e/helpers/berth-process.js';

const MiB = 1024 * 1024;
const BLOB_BYTES = Number(process.env.BENCH_BLOB_MIB ?? 256) * MiB;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 16;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function chunkOf(i: number): Buffer {
  const b = Buffer.alloc(MiB, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

async function main(): Promise<void> {
  const work = await tempDir('berth-bench-h2-');
  const pki = join(work, 'pki');
  execFileSync(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', '127.0.0.1']);
  const caFile = join(pki, 'ca.crt');
  const ca = readFileSync(caFile);
  const berth = await startBerth({ ca: caFile, args: ['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key')] });
  const auth = berth.authorization;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
  try {
    const h1 = (method: string, path: string, headers: Record<string, string | number> = {}, body?: (w: NodeJS.WritableStream) => void) =>
      new Promise<{ status: number; headers: Record<string, unknown>; bytes: number }>((resolve, reject) => {
        const req = request(`${berth.url}${path}`, { method, agent, headers: { authorization: auth, ...headers } }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
        });
        req.on('error', reject);
        if (body) body(req);
        else req.end();
      });
    const session = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = h2connect(berth.url, { ca, settings: { initialWindowSize: 4 * MiB } });
      s.once('connect', () => {
        s.setLocalWindowSize(1024 * MiB);
        resolve(s);
      });
      s.once('error', reject);
    });
    const h2 = (method: string, path: string, headers: Record<string, string | number> = {}, body?: (w: NodeJS.WritableStream) => void) =>
      new Promise<{ status: number; headers: Record<string, unknown>; bytes: number }>((resolve, reject) => {
        const stream = session.request({ ':method': method, ':path': path, authorization: auth, ...headers }, { endStream: body === undefined });
        let status = 0;
        let got: Record<string, unknown> = {};
        let bytes = 0;
        stream.on('response', (h) => {
          status = Number(h[':status']);
          got = h;
        });
        stream.on('data', (c: Buffer) => (bytes += c.length));
        stream.on('end', () => resolve({ status, headers: got, bytes }));
        stream.on('error', reject);
        if (body) body(stream);
      });
    const writeBlob = (w: NodeJS.WritableStream) => {
      let i = 0;
      const next = () => {
        while (i < BLOB_BYTES / MiB) {
          const ok = w.write(chunkOf(i++));
          if (!ok) {
            w.once('drain', next);
            return;
          }
        }
        w.end();
      };
      next();
    };
    const hash = createHash('sha256');
    for (let i = 0; i < BLOB_BYTES / MiB; i++) hash.update(chunkOf(i));
    const digest = `sha256:${hash.digest('hex')}`;

    const putOnce = async (proto: 'h1' | 'h2', repo: string) => {
      const start = proto === 'h1' ? await h1('POST', `/v2/${repo}/blobs/uploads/`) : await h2('POST', `/v2/${repo}/blobs/uploads/`);
      return String(start.headers.location);
    };
    // The blob and a manifest, pushed once over HTTP/1.1.
    const loc = await putOnce('h1', 'bench/h2');
    const t0 = process.hrtime.bigint();
    const put = await h1(
      'PUT',
      `${loc}?digest=${encodeURIComponent(digest)}`,
      { 'content-length': BLOB_BYTES, 'content-type': 'application/octet-stream' },
      writeBlob,
    );
    if (put.status !== 201) throw new Error(`blob PUT: ${put.status}`);
    const firstPutMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const config = Buffer.from('{}');
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const cloc = await putOnce('h1', 'bench/h2');
    await h1('PUT', `${cloc}?digest=${encodeURIComponent(configDigest)}`, { 'content-length': config.length }, (w) => w.end(config));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: BLOB_BYTES }],
    });
    const m = await h1(
      'PUT',
      '/v2/bench/h2/manifests/v1',
      { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': Buffer.byteLength(manifest) },
      (w) => w.end(manifest),
    );
    if (m.status !== 201) throw new Error(`manifest PUT: ${m.status}`);
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };

    const rate = async (get: () => Promise<{ status: number }>) => {
      const until = Date.now() + SECONDS * 1000;
      let n = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < until) {
            const r = await get();
            if (r.status !== 200) throw new Error(`manifest GET: ${r.status}`);
            n++;
          }
        }),
      );
      return n / SECONDS;
    };
    const timed = async (op: () => Promise<{ status: number; bytes: number }>, expect: number, bytes?: number) => {
      const t = process.hrtime.bigint();
      const r = await op();
      if (r.status !== expect || (bytes !== undefined && r.bytes !== bytes)) throw new Error(`got ${r.status}, ${r.bytes} bytes`);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const rows: Array<Record<string, number>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const row: Record<string, number> = {};
      row.h1ManifestPerS = await rate(() => h1('GET', '/v2/bench/h2/manifests/v1', accept));
      row.h2ManifestPerS = await rate(() => h2('GET', '/v2/bench/h2/manifests/v1', accept));
      row.h1BlobGetMs = await timed(() => h1('GET', `/v2/bench/h2/blobs/${digest}`), 200, BLOB_BYTES);
      row.h2BlobGetMs = await timed(() => h2('GET', `/v2/bench/h2/blobs/${digest}`), 200, BLOB_BYTES);
      // A fresh upload of the same bytes each time (the store deduplicates on commit).
      const l1 = await putOnce('h1', `bench/put${round}a`);
      row.h1BlobPutMs = await timed(() => h1('PUT', `${l1}?digest=${encodeURIComponent(digest)}`, { 'content-length': BLOB_BYTES }, writeBlob), 201);
      const l2 = await putOnce('h2', `bench/put${round}b`);
      row.h2BlobPutMs = await timed(() => h2('PUT', `${l2}?digest=${encodeURIComponent(digest)}`, { 'content-length': BLOB_BYTES }, writeBlob), 201);
      rows.push(row);
      console.log(`round ${round + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Math.round(v)])))}`);
    }
    const median = (k: string) => {
      const v = rows.map((r) => r[k]!).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)]!;
    };
    console.log(`first PUT (h1) ${Math.round(firstPutMs)} ms for ${BLOB_BYTES / MiB} MiB`);
    console.log(
      `median over ${ROUNDS} rounds: manifest GET/s h1 ${Math.round(median('h1ManifestPerS'))}, h2 ${Math.round(median('h2ManifestPerS'))} (h2/h1 ${(median('h2ManifestPerS') / median('h1ManifestPerS')).toFixed(2)})`,
    );
    console.log(
      `${BLOB_BYTES / MiB} MiB GET ms h1 ${Math.round(median('h1BlobGetMs'))}, h2 ${Math.round(median('h2BlobGetMs'))} (h2/h1 time ${(median('h2BlobGetMs') / median('h1BlobGetMs')).toFixed(2)})`,
    );
    console.log(
      `${BLOB_BYTES / MiB} MiB PUT ms h1 ${Math.round(median('h1BlobPutMs'))}, h2 ${Math.round(median('h2BlobPutMs'))} (h2/h1 time ${(median('h2BlobPutMs') / median('h1BlobPutMs')).toFixed(2)})`,
    );
    session.close();
  } finally {
    agent.destroy();
    await berth.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
