/**
 * What the audit trail costs: two Berth servers side by side, one with the trail on (the
 * default, auditRetentionDays 90) and one with it off (0), measured in alternating rounds on
 * the same machine so that noise hits both alike. Figures: manifest GET requests/s under
 * keep-alive load, and small-image pushes/s (config + layer blobs as POST/PATCH/PUT, then the
 * manifest PUT: five recorded requests per image, the trail's worst case per byte). The issue's
 * bar: under 5% lower with the trail on. `npm run bench:audit`; BENCH_QUICK=1 for a smoke run.
 *
 * BENCH_WHAT=all (`npm run bench:observability`) measures issue #15's own statement instead:
 * events, audit and metrics all on (the trail; one rule matching every event with an API
 * destination on a receiver in its own process; a metrics port scraped every 5 s) against all
 * off (no trail, no rule, no metrics port; the outbox row a push writes stays, as it is part of
 * the push's transaction whatever the rules).
 *
 * BENCH_CONTROL=1 adds a second off server to the GET rounds and prints its CPU per GET
 * against the first's: two processes of one build and configuration can differ at full rate by
 * as much as on and off do (notes/2026-12-05-s15-loop.md), and this shows by how much in this run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/e2e/helpers/berth-process.js';
import { routeEvents, startReceiver, type Receiver } from './event-target.js';
import { pushBlob, putManifest, requestRate } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startBerthServer, type Server } from './servers.js';
import { threadCpuSeconds, type ThreadKind } from './thread-cpu.js';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 4));
const LOAD_SECONDS = quick ? 2 : 8;
const CONNECTIONS = 32;
const PUSH_SECONDS = quick ? 2 : 8;
const PUSHERS = 4;
const ALL = process.env.BENCH_WHAT === 'all';
const ON = ALL ? 'all on' : 'audit on';
const OFF = ALL ? 'all off' : 'audit off';
const CONTROL = process.env.BENCH_CONTROL === '1';
const OFF2 = `${OFF} (2)`;

function manifestOf(config: string, layer: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 520 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 4104 }],
  });
}

/** Images pushed per second by `PUSHERS` loops, each image a fresh config and layer. */
async function pushRate(server: Server, round: number): Promise<{ perSecond: number; pushed: number }> {
  let pushed = 0;
  let salt = round * 1_000_000;
  const until = Date.now() + PUSH_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: PUSHERS }, async (_, w) => {
      while (Date.now() < until) {
        const config = await pushBlob(server, `bench/push${w}`, 512, salt++);
        const layer = await pushBlob(server, `bench/push${w}`, 4096, salt++);
        await putManifest(server, `bench/push${w}`, `t${salt}`, manifestOf(config, layer));
        pushed++;
      }
    }),
  );
  return { perSecond: pushed / ((Date.now() - started) / 1000), pushed };
}

/** Scrapes `url` every 5 s (as a Prometheus would, a little more often than the usual 15 s) until stopped; resolves to how many answered. */
function scraper(url: string): () => Promise<number> {
  let ok = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const r = await fetch(url).catch(() => undefined);
      if (r?.status === 200) ok++;
      await r?.arrayBuffer();
      await new Promise<void>((res) => {
        wake = res;
        setTimeout(res, 5000).unref();
      });
    }
  })();
  return async () => {
    stopped = true;
    wake?.();
    await loop;
    return ok;
  };
}

/**
 * The per-thread split of a GET's CPU (thread-cpu.ts). Worker threads are the audit thread plus,
 * in both servers, the blob store's (a few µs a GET with the trail off): read on minus off.
 */
const THREAD_KINDS: ThreadKind[] = ['event loop', 'worker threads', 'V8 helpers'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-audit-'));
  const loadAtStart = loadavg()[0]!;
  const quiet = { BERTH_GC_INTERVAL_SECONDS: '0', BERTH_LIFECYCLE_INTERVAL_SECONDS: '0' };
  const metricsPort = ALL ? await freePort() : undefined;
  const on = await startBerthServer(work, {
    name: ON,
    env: {
      ...quiet,
      ...(metricsPort !== undefined && { BERTH_METRICS_PORT: String(metricsPort) }),
      ...(process.env.BENCH_PROFILE && { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` }),
    },
  });
  const off = await startBerthServer(work, { name: OFF, env: { ...quiet, BERTH_AUDIT_RETENTION_DAYS: '0' } });
  const off2 = CONTROL ? await startBerthServer(work, { name: OFF2, env: { ...quiet, BERTH_AUDIT_RETENTION_DAYS: '0' } }) : undefined;
  let receiver: Receiver | undefined;
  if (ALL) {
    receiver = await startReceiver();
    await routeEvents(on, receiver.url);
  }
  const scrapes = metricsPort === undefined ? undefined : scraper(`http://127.0.0.1:${metricsPort}/metrics`);
  const figures: Record<string, Record<string, number[]>> = {};
  const record = (s: Server, name: string, v: number) => ((figures[name] ??= {})[s.name] ??= []).push(v);
  try {
    const paths = new Map<Server, string>();
    for (const s of off2 ? [on, off, off2] : [on, off]) {
      const config = await pushBlob(s, 'bench/load', 512, 1);
      const layer = await pushBlob(s, 'bench/load', 4096, 2);
      await putManifest(s, 'bench/load', 'v1', manifestOf(config, layer));
      paths.set(s, '/v2/bench/load/manifests/v1');
    }
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which server goes first, so neither always meets a warmer or cooler machine.
      const order = round % 2 === 0 ? [on, off] : [off, on];
      for (const s of off2 ? (round % 2 === 0 ? [...order, off2] : [off2, ...order]) : order) {
        const cpu0 = cpuSeconds(s.pid);
        const threads0 = threadCpuSeconds(s.pid);
        const m = await requestRate(s, 'GET', paths.get(s)!, { connections: CONNECTIONS, seconds: LOAD_SECONDS, headers: accept });
        if (m.errors > 0) throw new Error(`${s.name}: ${m.errors} manifest GETs failed`);
        const requests = m.perSecond * LOAD_SECONDS;
        record(s, 'manifest GET req/s', m.perSecond);
        // The server's CPU per request: what the trail costs, whatever else runs on the machine.
        record(s, 'server CPU-µs per manifest GET', ((cpuSeconds(s.pid) - cpu0) * 1e6) / requests);
        const threads = threadCpuSeconds(s.pid);
        for (const kind of THREAD_KINDS) record(s, `  ${kind} µs/GET`, ((threads[kind] - threads0[kind]) * 1e6) / requests);
      }
      for (const s of order) {
        const cpu0 = cpuSeconds(s.pid);
        const p = await pushRate(s, round + (s === on ? 0 : 500));
        record(s, 'small-image pushes/s', p.perSecond);
        record(s, 'server CPU-ms per image push', ((cpuSeconds(s.pid) - cpu0) * 1e3) / Math.max(1, p.pushed));
      }
    }
  } finally {
    const scraped = await scrapes?.();
    await on.stop();
    await off.stop();
    await off2?.stop();
    const received = await receiver?.stop();
    if (ALL) console.log(`metrics scrapes answered: ${scraped}; events received by the target: ${received}`);
    await rm(work, { recursive: true, force: true });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `${ALL ? 'events + audit + metrics' : 'audit trail'} cost: ${ROUNDS} alternating rounds, ${CONNECTIONS} connections for GETs, ${PUSHERS} pushers (CPU counts the server's process tree); load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
  );
  // Means as before; the median of each round's on/off ratio besides, since one slow round (another
  // process's burst) moves a mean of four a long way. The indented lines split the GET's CPU by thread.
  if (off2) {
    const a = figures['server CPU-µs per manifest GET']![OFF2]!;
    const b = figures['server CPU-µs per manifest GET']![OFF]!;
    console.log(
      `control, off (2)/off, server CPU-µs per manifest GET: median of rounds ${median(a.map((x, i) => x / b[i]!)).toFixed(3)} (rounds off (2): ${a.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
  for (const [name, by] of Object.entries(figures)) {
    const a = by[ON]!;
    const b = by[OFF]!;
    const paired = median(a.map((x, i) => x / b[i]!));
    console.log(
      `${name.padEnd(30)} on ${mean(a).toFixed(0).padStart(6)}  off ${mean(b).toFixed(0).padStart(6)}  on/off ${mean(b) > 0 ? (mean(a) / mean(b)).toFixed(3) : '-'}  ` +
        `median of rounds' on/off ${Number.isFinite(paired) ? paired.toFixed(3) : '-'}  ` +
        `(rounds on: ${a.map((x) => x.toFixed(0)).join(' ')}; off: ${b.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
}

await main();
