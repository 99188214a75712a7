/**
 * `npm run bench:gc`: garbage-collection throughput on the file system, Berth against the
 * reference registry on the same data shape. Each registry gets IMAGES + KEEP small images
 * (a config and three 1 KiB layers each, all distinct), then the IMAGES are deleted by digest,
 * leaving 4 × IMAGES unreferenced blobs beside 4 × KEEP referenced ones. Then one full pass:
 *
 *   Berth       `berth gc` (zero grace) run beside the running server: online;
 *   reference   `docker-registry garbage-collect <config> --delete-untagged` with the server
 *               stopped, as distribution requires (its GC is offline).
 *
 * Both are timed as commands (process start to exit) and checked to have removed exactly the
 * unreferenced blob files. BENCH_QUICK=1 makes a smaller run.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cliPath } from '../test/e2e/helpers/berth-process.js';
import { startBerthServer, startReferenceServer, type Server } from './servers.js';

const run = promisify(execFile);
const quick = process.env.BENCH_QUICK === '1';
const IMAGES = quick ? 100 : 500;
const KEEP = quick ? 10 : 50;
const LAYERS = 3;
const CONCURRENCY = 16;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function send(server: Server, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(new URL(path, server.url), {
    method,
    headers: { ...server.headers, ...headers },
    ...(body && { body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length) }),
  });
  await res.arrayBuffer();
  return res;
}

async function pushBlob(server: Server, repo: string, data: Buffer): Promise<void> {
  const start = await send(server, 'POST', `/v2/${repo}/blobs/uploads/`);
  const url = new URL(start.headers.get('location')!, server.url);
  url.searchParams.set('digest', sha256(data));
  const put = await send(server, 'PUT', url.pathname + url.search, data, { 'Content-Type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`${server.name}: blob PUT answered ${put.status}`);
}

/** Pushes one image and returns its manifest digest. */
async function pushImage(server: Server, repo: string, i: number): Promise<string> {
  const layers = Array.from({ length: LAYERS }, () => randomBytes(1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', image: i, rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }));
  await Promise.all([config, ...layers].map((b) => pushBlob(server, repo, b)));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
    }),
  );
  const put = await send(server, 'PUT', `/v2/${repo}/manifests/v${i}`, manifest, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
  if (put.status !== 201) throw new Error(`${server.name}: manifest PUT answered ${put.status}`);
  return sha256(manifest);
}

async function inParallel(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Blob files under a registry's storage (Berth: blobs/sha256/xx/<hex>; reference: .../blobs/sha256/xx/<hex>/data). */
async function countBlobFiles(root: string): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else n++;
    }
  };
  await walk(root);
  return n;
}

const blobRoot = (server: Server) =>
  server.name === 'berth' ? join(server.dataDir, 'blobs', 'sha256') : join(server.dataDir, 'docker/registry/v2/blobs/sha256');

interface Figure {
  seconds: number;
  removed: number;
  note: string;
}

async function measure(server: Server): Promise<Figure> {
  const repo = 'bench/gc';
  const digests: string[] = [];
  await inParallel(IMAGES + KEEP, async (i) => {
    digests[i] = await pushImage(server, repo, i);
  });
  await inParallel(IMAGES, async (i) => {
    const res = await send(server, 'DELETE', `/v2/${repo}/manifests/${digests[i]}`);
    if (res.status !== 202) throw new Error(`${server.name}: manifest DELETE answered ${res.status}`);
  });
  const before = await countBlobFiles(blobRoot(server));
  let note = '';
  // Only the collecting command is timed; the reference's downtime around it is not counted.
  if (server.name !== 'berth') await server.halt();
  const t = performance.now();
  if (server.name === 'berth') {
    const { stdout } = await run(process.execPath, [cliPath, 'gc', '--json', '--data-dir', server.dataDir], {
      env: { ...process.env, BERTH_GC_GRACE_SECONDS: '0' },
      maxBuffer: 256 * 1024 * 1024,
    });
    const r = JSON.parse(stdout) as { reviewed: number; deleted: { blobs: number }; ms: number };
    note = `${r.reviewed} reviewed, ${r.deleted.blobs} deleted, ${r.ms} ms inside the pass, server running`;
  } else {
    await run('docker-registry', ['garbage-collect', server.configPath!, '--delete-untagged'], { maxBuffer: 256 * 1024 * 1024 });
  }
  const seconds = (performance.now() - t) / 1000;
  if (server.name !== 'berth') note = 'server stopped while it collected (offline GC)';
  const removed = before - (await countBlobFiles(blobRoot(server)));
  // The reference stores manifests as blobs too; Berth keeps them in its metadata.
  const expected = IMAGES * (LAYERS + 1) + (server.name === 'berth' ? 0 : IMAGES);
  if (removed !== expected) throw new Error(`${server.name}: removed ${removed} blob files, expected ${expected}`);
  return { seconds, removed, note };
}

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  const results: Record<string, Figure> = {};
  for (const start of [startBerthServer, startReferenceServer]) {
    const server = await start(workDir);
    try {
      console.error(`${server.name}: pushing ${IMAGES + KEEP} images, deleting ${IMAGES}, collecting`);
      results[server.name] = await measure(server);
    } finally {
      await server.stop();
    }
  }
  const b = results.berth!;
  const r = results.reference!;
  // Per unreferenced config or layer blob, the same count on both sides.
  const rate = (f: Figure) => (IMAGES * (LAYERS + 1)) / f.seconds;
  console.log(`\ngarbage collection: ${IMAGES * (LAYERS + 1)} unreferenced blobs beside ${KEEP * (LAYERS + 1)} referenced (1 KiB each)`);
  console.log(`${'figure'.padEnd(30)}  ${'berth'.padStart(10)}  ${'reference'.padStart(10)}  berth/ref`);
  console.log(
    `${'pass seconds'.padEnd(30)}  ${b.seconds.toFixed(2).padStart(10)}  ${r.seconds.toFixed(2).padStart(10)}  ${(b.seconds / r.seconds).toFixed(2).padStart(9)}  (lower is better)`,
  );
  console.log(
    `${'blobs deleted per second'.padEnd(30)}  ${rate(b).toFixed(0).padStart(10)}  ${rate(r).toFixed(0).padStart(10)}  ${(rate(b) / rate(r)).toFixed(2).padStart(9)}  (higher is better)`,
  );
  console.log(`berth: ${b.note}\nreference: ${r.note}; it also removed ${r.removed - b.removed} manifest blobs (Berth keeps manifests in its metadata)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
