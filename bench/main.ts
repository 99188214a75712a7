/**
 * `npm run bench`: Berth against the reference registry (CNCF distribution) on the same machine
 * in the same run, alternating A B A B so drift hits both, printing each figure and the
 * Berth/reference ratio. BENCH_QUICK=1 makes a smoke run of well under a minute.
 * BENCH_BASELINE_CLI names another build's CLI (a copy of main's dist/src/cli/main.js) run as a
 * third server, `berth-base`, in the same rounds (after this build, or before it with
 * BENCH_BASELINE_FIRST=1), printed against this build with each round's pair; BENCH_ROUNDS sets
 * the rounds of the http, skopeo and rates parts (2) and of the raw curl part (5); BENCH_SKOPEO_PULLS
 * the skopeo pulls per server and round (3).
 * BENCH_BASELINE_ENV (`NAME=value,NAME=value`) is the baseline's environment; without
 * BENCH_BASELINE_CLI the baseline is this build, so one setting (BERTH_SEND_PIPE=false, say) is
 * measured against the defaults in the same rounds, which a quiet run needs to judge it. The
 * Node-client pull runs in a process of its own (bench/pull-client.ts says why);
 * BENCH_PULL_CLIENT=inprocess pulls from this one. The same blobs are then pulled again through
 * one reused read buffer (bench/reused-buffer-get.ts).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildImageLayout } from '../test/e2e/helpers/oci-layout.js';
import { measureAuthCost, prepareAuthCost, type AuthSetup } from './auth-cost.js';
import { benchLifecycle } from './lifecycle.js';
import { pullBlob, pullBlobsApart, pushBlob, requestRate, seedManifest } from './http-client.js';
import { cpuSeconds, watchPeakRss } from './proc-stats.js';
import { BASELINE, printBaseline, printMarkdown, printTable, Results, type Figures } from './report.js';
import { startBerthServer, startReferenceServer, type Server } from './servers.js';
import { skopeoRound } from './skopeo.js';
import { dataPath, machineContext, scaleListings, type DataPathParams } from './data-path.js';
import { mixedSettle } from './settle.js';
import { memoryPairs } from './memory-crowds.js';
import { PullCeiling } from './pull-ceiling.js';

const quick = process.env.BENCH_QUICK === '1';
/** BENCH_ONLY=data-path: only the 2 GiB memory line and the #14 lines (no throughput rounds, auth cost, lifecycle). */
const dataPathOnly = process.env.BENCH_ONLY === 'data-path';
const ALL_PARTS = 'big,http,skopeo,rates,auth,curl,mixed,memory,scale,lifecycle';
/**
 * BENCH_PARTS picks parts by name, run in the full run's order on the same servers (e.g.
 * "big,http,curl": what the raw curl line follows in a full run, without the rest).
 */
const parts = new Set((process.env.BENCH_PARTS ?? (dataPathOnly ? 'big,curl,mixed,memory,scale' : ALL_PARTS)).split(','));
const unknown = [...parts].filter((x) => !ALL_PARTS.split(',').includes(x));
if (unknown.length > 0) throw new Error(`BENCH_PARTS: no part named ${unknown.join(', ')} (parts: ${ALL_PARTS})`);
const partial = parts.size < ALL_PARTS.split(',').length;
const MiB = 1024 * 1024;
const P = {
  rounds: Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 2)),
  layers: 3,
  layerBytes: (quick ? 32 : 256) * MiB,
  bigLayerBytes: (quick ? 256 : 2048) * MiB,
  skopeoLayerBytes: (quick ? 8 : 64) * MiB,
  // Pulls need no fresh image, so each round takes several (bench/skopeo.ts says why).
  skopeoPulls: Number(process.env.BENCH_SKOPEO_PULLS ?? (quick ? 1 : 3)),
  loadSeconds: quick ? 2 : 10,
  connections: 64,
};
/** The data-path lines (#14): raw curl, mixed load, memory under many uploads, listings at scale. */
const D: DataPathParams = {
  curlBytes: (quick ? 32 : 512) * MiB,
  // A 512 MiB download lasts ~0.3 s: a decision between two builds needs more than 3 rounds.
  curlRounds: process.env.BENCH_ROUNDS ? Number(process.env.BENCH_ROUNDS) : quick ? 1 : 5,
  mixedRounds: quick ? 1 : 2,
  mixedUploads: quick ? 10 : 100,
  // Each upload must outlast the window: 16 MiB at 1 MB/s is 16 s against 10 s.
  uploadBytes: (quick ? 4 : 16) * MiB,
  uploadRate: '1M',
  mixedConnections: 16,
  mixedSeconds: quick ? 2 : 10,
  mixedSettle: mixedSettle(process.env.BENCH_MIXED_SETTLE),
  rssUploads: quick ? [4, 12] : [50, 200],
  // One pair of crowds swung 26-106 KB per upload between runs of the same build (session 23).
  rssPairs: memoryPairs(process.env.BENCH_MEMORY_PAIRS, quick ? 1 : 3),
  // BENCH_SCALE_TAGS=10000, BENCH_SCALE_REPOS= (none): other sizes, to repeat one listing's walks.
  tagCounts: sizes(process.env.BENCH_SCALE_TAGS) ?? (quick ? [100, 300] : [10_000, 100_000]),
  repoCounts: sizes(process.env.BENCH_SCALE_REPOS) ?? (quick ? [20, 60] : [1_000, 10_000]),
  // At least 1,000 pages per listing and size, so a p99 is the 11th slowest page, not the 2nd of
  // 100 (session 34's 60.8 ms ListImages p99 was two slow pages of 100; scale.ts, WalkPlan); two
  // walks at least, so the first walk after seeding is not all there is.
  listingPlan: quick ? { passes: 1, pages: 0, seconds: 0 } : { passes: 2, pages: Number(process.env.BENCH_SCALE_PAGES ?? 1000), seconds: 30 },
  seed: process.env.BENCH_SEED === 'direct' ? 'direct' : 'api',
  cpuLimitMiB: quick ? 128 : 1024,
  parts,
};

function sizes(v: string | undefined): number[] | undefined {
  return v === undefined ? undefined : v.split(',').filter(Boolean).map(Number);
}

const results = new Results(resolve('bench/.work/results-partial.json'));
const record = results.record;

async function httpThroughput(server: Server, round: number, ceiling?: PullCeiling): Promise<void> {
  const repo = `bench/http${round}`;
  const cpu0 = cpuSeconds(server.pid);
  const t = performance.now();
  const digests: string[] = [];
  for (let i = 0; i < P.layers; i++) digests.push(await pushBlob(server, repo, P.layerBytes, round * 100 + i));
  const pushSeconds = (performance.now() - t) / 1000;
  const pushedGiB = (P.layers * P.layerBytes) / (1024 * MiB);
  record(server, 'push MB/s (HTTP)', (P.layers * P.layerBytes) / MiB / pushSeconds);
  record(server, 'push CPU-s per GiB', (cpuSeconds(server.pid) - cpu0) / pushedGiB);
  // The client's CPU says whether the client or the server bounds the rate.
  const serverCpu = cpuSeconds(server.pid);
  const pull = inProcessPull ? await pullHere(server, repo, digests) : await pullBlobsApart(server, repo, digests);
  record(server, 'pull MB/s (HTTP)', pull.bytes / MiB / pull.seconds);
  if (ceiling && server.name === 'reference') await ceiling.beside(pull, P.layers);
  const pulledGiB = pull.bytes / (1024 * MiB);
  record(server, 'pull CPU-s per GiB', (cpuSeconds(server.pid) - serverCpu) / pulledGiB);
  record(server, 'pull: the Node client CPU-s per GiB', pull.clientCpu / pulledGiB);
  // Reads of 64 KiB at most: more per GiB would mean the server's writes make its client read in smaller steps.
  if (pull.clientReads !== undefined) record(server, 'pull: the Node client reads per GiB', pull.clientReads / pulledGiB);
  // The same blobs again through one reused read buffer (reused-buffer-get.ts says why): Node's
  // client costs ~2 CPU-s per GiB here and bounds the line above; this reader leaves the servers to show.
  const serverCpu2 = cpuSeconds(server.pid);
  const raw = await pullBlobsApart(server, repo, digests, 'reused-buffer');
  const rawGiB = raw.bytes / (1024 * MiB);
  record(server, 'pull MB/s (HTTP, one reused read buffer)', raw.bytes / MiB / raw.seconds);
  record(server, 'pull CPU-s per GiB (one reused read buffer)', (cpuSeconds(server.pid) - serverCpu2) / rawGiB);
  record(server, 'pull: the reused-buffer reader CPU-s per GiB', raw.clientCpu / rawGiB);
}

/**
 * The pull as sessions up to 15 measured it, with this process as the client (BENCH_PULL_CLIENT=
 * inprocess): its cost per GiB then follows this process's heap (pull-client.ts), not the server.
 */
const inProcessPull = process.env.BENCH_PULL_CLIENT === 'inprocess';

async function pullHere(server: Server, repo: string, digests: string[]): Promise<{ bytes: number; seconds: number; clientCpu: number; clientReads?: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  let bytes = 0;
  for (const d of digests) bytes += await pullBlob(server, repo, d);
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  return { bytes, seconds, clientCpu: (used.user + used.system) / 1e6 };
}

async function bigLayerRss(server: Server, round: number): Promise<void> {
  const stop = watchPeakRss(server.pid);
  await pushBlob(server, `bench/big${round}`, P.bigLayerBytes, 9000 + round);
  record(server, `peak RSS MB pushing ${P.bigLayerBytes / MiB} MiB`, stop() / MiB);
}

async function requestRates(server: Server, manifestPath: string, blobPath: string): Promise<void> {
  const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
  const m = await requestRate(server, 'GET', manifestPath, { connections: P.connections, seconds: P.loadSeconds, headers: accept });
  record(server, 'manifest GET req/s', m.perSecond);
  const b = await requestRate(server, 'HEAD', blobPath, { connections: P.connections, seconds: P.loadSeconds });
  record(server, 'blob HEAD req/s', b.perSecond);
  if (m.errors + b.errors > 0) console.error(`${server.name}: ${m.errors + b.errors} failed requests under load`);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const authFigures: Figures = {};
const AUTH_BASELINE = 'manifest GET req/s, anonymous (public repo)';

function report(): void {
  if (!authFigures[AUTH_BASELINE]) return;
  const base = mean(authFigures[AUTH_BASELINE]!);
  const aw = Math.max(...Object.keys(authFigures).map((n) => n.length));
  console.log(`\n${'authorization cost (Berth)'.padEnd(aw)}  ${'req/s'.padStart(10)}  vs anonymous`);
  for (const [name, xs] of Object.entries(authFigures)) {
    const ratio = name.startsWith('manifest GET') ? (mean(xs) / base).toFixed(2) : '';
    console.log(`${name.padEnd(aw)}  ${mean(xs).toFixed(1).padStart(10)}  ${ratio.padStart(12)}`);
  }
}

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  const home = await mkdtemp(join(workDir, 'skopeo-'));
  await writeFile(join(home, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  // A fresh image per round: a registry that already holds the layers would skip them.
  const layouts: string[] = [];
  for (let round = 0; round < P.rounds; round++) {
    layouts.push(join(home, `layout${round}`));
    await buildImageLayout(layouts[round]!, { layers: P.layers, layerBytes: P.skopeoLayerBytes, tag: 'v1' });
  }
  // Before any server runs: the cores are the bench's alone.
  await machineContext(D, results);
  // BENCH_SEAL_SLOTS=1: Berth servers serve metrics, and the memory line reads their seal slots' figure.
  const metrics = process.env.BENCH_SEAL_SLOTS === '1';
  const servers = [await startBerthServer(workDir, { metrics })];
  const baselineEnv = process.env.BENCH_BASELINE_ENV ? parseEnvList('BENCH_BASELINE_ENV', process.env.BENCH_BASELINE_ENV) : undefined;
  const baseline =
    process.env.BENCH_BASELINE_CLI || baselineEnv
      ? { ...(process.env.BENCH_BASELINE_CLI && { cli: process.env.BENCH_BASELINE_CLI }), ...(baselineEnv && { env: baselineEnv }), name: BASELINE }
      : undefined;
  if (baseline) {
    const base = await startBerthServer(workDir, { ...baseline, metrics });
    if (process.env.BENCH_BASELINE_FIRST === '1') servers.unshift(base);
    else servers.push(base);
  }
  servers.push(await startReferenceServer(workDir));
  // Beside the reference's Node-client pulls: what that client reads from a server doing no work.
  const ceiling = parts.has('http') && !inProcessPull ? await PullCeiling.start(P.layerBytes) : undefined;
  const stopAll = () => {
    ceiling?.stop();
    return Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    // Peak memory while one huge layer streams in, measured first, on servers not yet warmed by load.
    if (parts.has('big')) for (const s of servers) await bigLayerRss(s, 0);
    const seeds = await Promise.all(servers.map((s) => seedManifest(s)));
    const berth = servers.find((s) => s.name === 'berth')!;
    const authSetup: AuthSetup = await prepareAuthCost(berth, berth.admin!, async (repo) => (await seedManifest(berth, repo)).manifestPath);
    const roundParts = ['http', 'skopeo', 'rates', 'auth'].some((x) => parts.has(x));
    for (let round = 0; round < (roundParts ? P.rounds : 0); round++) {
      // Each server goes first in every other round (as curl-raw.ts does): in a fixed order Berth
      // always ran first, straight after the previous round's reference, and the reference last.
      const order = [...servers.entries()];
      if (round % 2 === 1) order.reverse();
      for (const [i, s] of order) {
        console.error(`round ${round + 1}/${P.rounds}: ${s.name}`);
        if (parts.has('http')) await httpThroughput(s, round, ceiling);
        if (parts.has('skopeo'))
          await skopeoRound(s, layouts[round]!, round, home, { layers: P.layers, layerBytes: P.skopeoLayerBytes, pulls: P.skopeoPulls }, record);
        if (parts.has('rates')) await requestRates(s, seeds[i]!.manifestPath, seeds[i]!.blobPath);
      }
      const load = { connections: P.connections, seconds: P.loadSeconds };
      if (parts.has('auth')) await measureAuthCost(berth, authSetup, load, (name, v) => (authFigures[name] ??= []).push(v));
    }
    await dataPath(
      servers,
      seeds.map((x) => x.manifestPath),
      workDir,
      D,
      results,
    );
    await stopAll();
    // Listings at scale on fresh servers, so their counts and memory are the seeding's alone.
    if (parts.has('scale')) await scaleListings(workDir, D, results, baseline);
    printTable(results);
    report();
    ceiling?.print();
    const lc = !parts.has('lifecycle') ? undefined : await benchLifecycle(workDir, quick ? 20_000 : 100_000, (quick ? 1 : 2) + 1);
    if (lc)
      console.log(
        `\nlifecycle: ${lc.images} images, 3 rules, dry run: ${lc.seconds.map((s) => s.toFixed(2)).join(' / ')} s (target < 2 s), ${lc.expiring} would expire`,
      );
    const kind = quick
      ? 'BENCH_QUICK=1 (smoke run: not figures to quote)'
      : dataPathOnly
        ? 'BENCH_ONLY=data-path'
        : partial
          ? `BENCH_PARTS=${[...parts].join(',')}`
          : 'full run';
    printMarkdown(results, `Berth against the reference, ${kind}, ${new Date().toISOString().slice(0, 10)}:`);
    printBaseline(results);
    await writeFile(
      join(workDir, 'results.json'),
      JSON.stringify(
        { params: P, dataPath: D, results: results.byServer, context: results.context, authFigures, pullCeiling: ceiling?.figures(), lifecycle: lc },
        null,
        2,
      ),
    );
  } finally {
    await stopAll();
    await rm(home, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/** `NAME=value,NAME=value` as an environment; a malformed entry stops the bench, naming the variable. */
function parseEnvList(variable: string, list: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of list.split(',').filter((e) => e !== '')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`${variable}: "${entry}" is not NAME=value`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
