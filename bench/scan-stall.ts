/**
 * Does a scan stall the server? (`npm run bench:scan-stall`) Pushes images whose one layer holds
 * 100,000 tiny files (100 MB of tar, 1.3 MB gzip or 0.5 MB zstd: the scan cost is all per-entry
 * work and decompression; zstd is decoded in JavaScript, so it is the heavier of the two),
 * starts their scans, and meanwhile sends unrelated requests one after another (GET /healthz and
 * an authenticated manifest GET, alternately, on a keep-alive connection), recording each one's
 * latency until the scan is no longer IN_PROGRESS. Prints, per round and overall, the scan time,
 * the requests answered during it, and their p50 / p99 / max latency. The bar: no
 * request over 1 s, p99 under 100 ms.
 */
import { CreateRepositoryCommand, DescribeImageScanFindingsCommand, StartImageScanCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { manySmallFilesTar } from '../src/scan/layers/testing/tar-writer.js';
import { ecrClient } from '../test/e2e/helpers/ecr-client.js';
import { pushBlob, pushManifest, request, sha256 } from '../test/e2e/helpers/registry-http.js';
import { startBerthServer, type Server } from './servers.js';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = quick ? 1 : 3;
const FILES = 100_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

async function pushImage(server: Server, repo: string, tag: string, layer: Buffer, layerMediaType: string): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  for (const b of [config, layer]) {
    const res = await pushBlob(server.url, repo, b);
    if (res.status !== 201) throw new Error(`blob push answered ${res.status}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: layerMediaType, digest: sha256(layer), size: layer.length }],
    }),
  );
  const res = await pushManifest(server.url, repo, tag, manifest, OCI_MANIFEST);
  if (res.status !== 201) throw new Error(`manifest push answered ${res.status}`);
}

async function scanStatus(ecr: ECRClient, repo: string, tag: string): Promise<string | undefined> {
  const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: repo, imageId: { imageTag: tag } }));
  return res.imageScanStatus?.status;
}

interface Round {
  scanSeconds: number;
  latenciesMs: number[];
  status: string | undefined;
}

/** Unrelated requests, one after another, while the scan runs; the status is polled beside them. */
async function probeDuringScan(server: Server, ecr: ECRClient, repo: string, tag: string): Promise<Round> {
  const latenciesMs: number[] = [];
  const t0 = performance.now();
  await ecr.send(new StartImageScanCommand({ repositoryName: repo, imageId: { imageTag: tag } }));
  let status: string | undefined = 'IN_PROGRESS';
  let scanning = true;
  const poller = (async () => {
    while (status === 'IN_PROGRESS') {
      await new Promise((r) => setTimeout(r, 100));
      status = await scanStatus(ecr, repo, tag);
    }
    scanning = false;
  })();
  for (let i = 0; scanning; i++) {
    const t = performance.now();
    const res =
      i % 2 === 0 ? await request(`${server.url}/healthz`) : await request(`${server.url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: OCI_MANIFEST } });
    if (res.status !== 200) throw new Error(`probe answered ${res.status}`);
    latenciesMs.push(performance.now() - t);
  }
  await poller;
  return { scanSeconds: (performance.now() - t0) / 1000, latenciesMs, status };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function summary(latenciesMs: number[]): string {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return `${s.length} requests answered, p50 ${quantile(s, 0.5).toFixed(1)} ms, p99 ${quantile(s, 0.99).toFixed(1)} ms, max ${s[s.length - 1]?.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const work = resolve('bench/.work');
  await mkdir(work, { recursive: true });
  const dir = await mkdtemp(join(work, 'scan-stall-'));
  const server = await startBerthServer(dir);
  try {
    const ecr = ecrClient({ url: server.url, dataDir: server.dataDir });
    const repo = 'bench/stall';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    for (const compression of ['gzip', 'zstd'] as const) {
      const all: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const tar = manySmallFilesTar(FILES, `${compression}${round}-${Date.now()}`);
        // Node 20's zlib has no zstd: the reference CLI compresses (level 3, its default).
        const layer = compression === 'gzip' ? gzipSync(tar) : execFileSync('zstd', ['-3', '-q', '-c'], { input: tar, maxBuffer: 1 << 30 });
        const tag = `${compression}${round}`;
        await pushImage(server, repo, tag, layer, `application/vnd.oci.image.layer.v1.tar+${compression}`);
        const r = await probeDuringScan(server, ecr, repo, tag);
        all.push(...r.latenciesMs);
        console.log(
          `${compression} round ${round + 1}: ${(layer.length / 1e6).toFixed(2)} MB layer of ${FILES} files, scan ${r.status} after ${r.scanSeconds.toFixed(2)} s; ${summary(r.latenciesMs)}`,
        );
      }
      console.log(`${compression}, all rounds: ${summary(all)}`);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
