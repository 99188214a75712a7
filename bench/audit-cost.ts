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
 * Processes, not rounds, are what the figures average over: two server processes of one build and
 * configuration can differ at full rate by up to 25% in CPU per GET, in every round of a run
 * (notes/2026-12-05-s15-loop.md; presumably each process's JIT and memory layout), so one
 * process a side carries that luck whole. The bench starts BENCH_PROCS (3) fresh sets of servers
 * one after another — on, off, and a second off as a control — warms each up, measures them in
 * alternating rounds, and stops them. A figure is the median over processes of each process's
 * median of rounds; beside on/off it prints off (2)/off, the same figure between two identical
 * configurations: the run's own noise floor (BENCH_CONTROL=0 drops the control).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/e2e/helpers/berth-process.js';
import { routeEvents, startReceiver, type Receiver } from './event-target.js';
import { pushBlob, putManifest, requestRate } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startBerthServer, type Server } from './servers.js';
import { threadStats, type ThreadKind } from './thread-cpu.js';

const quick = process.env.BENCH_QUICK === '1';
// Sets × rounds × servers × (GETs + pushes): 3 × 3 × 3 × 9 s, about 5 minutes with the starts.
const PROCS = Number(process.env.BENCH_PROCS ?? (quick ? 1 : 3));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
const LOAD_SECONDS = quick ? 2 : 5;
const CONNECTIONS = 32;
const PUSH_SECONDS = quick ? 2 : 4;
const PUSHERS = 4;
/** A fresh process's first seconds run unoptimised code; measured rounds start after this much of each load. */
const WARM_SECONDS = quick ? 1 : 2;
const ALL = process.env.BENCH_WHAT === 'all';
const ON = ALL ? 'all on' : 'audit on';
const OFF = ALL ? 'all off' : 'audit off';
const CONTROL = process.env.BENCH_CONTROL !== '0';
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
async function pushRate(server: Server, round: number, seconds = PUSH_SECONDS): Promise<{ perSecond: number; pushed: number }> {
  let pushed = 0;
  let salt = round * 1_000_000;
  const until = Date.now() + seconds * 1000;
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

/** figures[metric][server name][process] = that process's rounds. */
type Figures = Record<string, Record<string, number[][]>>;

const quietEnv = { BERTH_GC_INTERVAL_SECONDS: '0', BERTH_LIFECYCLE_INTERVAL_SECONDS: '0' };
const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
const MANIFEST_PATH = '/v2/bench/load/manifests/v1';

/** Starts one set (on, off, the control), measures it in alternating rounds, stops it. */
async function measureSet(work: string, p: number, receiver: Receiver | undefined, figures: Figures): Promise<number | undefined> {
  const metricsPort = ALL ? await freePort() : undefined;
  const started: Server[] = [];
  let scrapes: (() => Promise<number>) | undefined;
  let scraped: number | undefined;
  try {
    const start = async (name: string, env: Record<string, string>) => {
      const s = await startBerthServer(work, { name, env: { ...quietEnv, ...env } });
      started.push(s);
      return s;
    };
    const on = await start(ON, {
      ...(metricsPort !== undefined && { BERTH_METRICS_PORT: String(metricsPort) }),
      ...(process.env.BENCH_PROFILE && { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` }),
    });
    const off = await start(OFF, { BERTH_AUDIT_RETENTION_DAYS: '0' });
    const off2 = CONTROL ? await start(OFF2, { BERTH_AUDIT_RETENTION_DAYS: '0' }) : undefined;
    if (receiver) await routeEvents(on, receiver.url);
    if (metricsPort !== undefined) scrapes = scraper(`http://127.0.0.1:${metricsPort}/metrics`);
    const all = off2 ? [on, off, off2] : [on, off];
    for (const s of all) {
      const config = await pushBlob(s, 'bench/load', 512, 1);
      const layer = await pushBlob(s, 'bench/load', 4096, 2);
      await putManifest(s, 'bench/load', 'v1', manifestOf(config, layer));
      await requestRate(s, 'GET', MANIFEST_PATH, { connections: CONNECTIONS, seconds: WARM_SECONDS, headers: accept });
      await pushRate(s, 900 + p, WARM_SECONDS);
    }
    const record = (s: Server, name: string, v: number) => {
      const processes = ((figures[name] ??= {})[s.name] ??= []);
      (processes[p] ??= []).push(v);
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which server goes first, so none always meets a warmer or cooler machine.
      const order = (round + p) % 2 === 0 ? all : [...all].reverse();
      for (const s of order) {
        const cpu0 = cpuSeconds(s.pid);
        const threads0 = threadStats(s.pid);
        const m = await requestRate(s, 'GET', MANIFEST_PATH, { connections: CONNECTIONS, seconds: LOAD_SECONDS, headers: accept });
        if (m.errors > 0) throw new Error(`${s.name}: ${m.errors} manifest GETs failed`);
        const requests = m.perSecond * LOAD_SECONDS;
        record(s, 'manifest GET req/s', m.perSecond);
        // The server's CPU per request: what the trail costs, whatever else runs on the machine.
        record(s, 'server CPU-µs per manifest GET', ((cpuSeconds(s.pid) - cpu0) * 1e6) / requests);
        const threads = threadStats(s.pid);
        for (const kind of THREAD_KINDS) record(s, `  ${kind} µs/GET`, ((threads[kind].cpu - threads0[kind].cpu) * 1e6) / requests);
        // Whether the loop lost its core more often, or waited longer for one, per GET.
        const loop = threads['event loop'];
        const loop0 = threads0['event loop'];
        record(s, '  loop preempted per 1k GETs', ((loop.preempted - loop0.preempted) * 1e3) / requests);
        record(s, '  loop run-queue wait µs/GET', ((loop.waited - loop0.waited) * 1e6) / requests);
      }
      for (const s of order) {
        const cpu0 = cpuSeconds(s.pid);
        const threads0 = threadStats(s.pid);
        const pushed = await pushRate(s, 1000 * p + round * 10 + all.indexOf(s));
        record(s, 'small-image pushes/s', pushed.perSecond);
        record(s, 'server CPU-ms per image push', ((cpuSeconds(s.pid) - cpu0) * 1e3) / Math.max(1, pushed.pushed));
        // Where a push's CPU goes: the loop, the worker threads (blob store, audit, event sends, metrics), V8's helpers.
        const threads = threadStats(s.pid);
        for (const kind of THREAD_KINDS) record(s, `  ${kind} µs/push`, ((threads[kind].cpu - threads0[kind].cpu) * 1e6) / Math.max(1, pushed.pushed));
      }
    }
  } finally {
    scraped = await scrapes?.();
    for (const s of started) await s.stop();
  }
  return scraped;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-audit-'));
  const loadAtStart = loadavg()[0]!;
  const receiver = ALL ? await startReceiver() : undefined;
  const figures: Figures = {};
  let scraped = 0;
  try {
    for (let p = 0; p < PROCS; p++) scraped += (await measureSet(work, p, receiver, figures)) ?? 0;
  } finally {
    const received = await receiver?.stop();
    if (ALL) console.log(`metrics scrapes answered: ${scraped}; events received by the target: ${received}`);
    await rm(work, { recursive: true, force: true });
  }
  console.log(
    `${ALL ? 'events + audit + metrics' : 'audit trail'} cost: ${PROCS} fresh processes a side, each ${ROUNDS} alternating rounds (${LOAD_SECONDS} s of GETs on ${CONNECTIONS} connections, ${PUSH_SECONDS} s of ${PUSHERS} pushers)${CONTROL ? ', and a second off server as a control' : ''} (CPU counts the server's process tree); load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
  );
  console.log(
    "each figure: the median over processes of each process's median of rounds; on/off and off (2)/off of those, then the median of the sets' own ratios; the indented lines split the GET's CPU by thread, then count the event loop's preemptions and its wait for a core",
  );
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');
  for (const [name, by] of Object.entries(figures)) {
    // One figure per process: its rounds' median, so a burst of another process's load in one round counts once.
    const perProc = (who: string) => (by[who] ?? []).map(median);
    const [a, b, c] = [perProc(ON), perProc(OFF), perProc(OFF2)];
    const own = (xs: number[]) => median(xs.map((x, i) => x / b[i]!));
    const control = c.length > 0 ? `  off (2)/off ${f(median(c) / median(b))} (sets ${f(own(c))})` : '';
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(
      `${name.padEnd(30)} on ${median(a).toFixed(0).padStart(6)}  off ${median(b).toFixed(0).padStart(6)}  on/off ${f(median(a) / median(b))} (sets ${f(own(a))})${control}  ` +
        `(processes on: ${list(a)}; off: ${list(b)}${c.length > 0 ? `; off (2): ${list(c)}` : ''})`,
    );
  }
}

await main();
