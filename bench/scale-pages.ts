/**
 * `BENCH_ENTRY=scale-pages bash bench/run.sh`: the tag listings at scale page by page, to find
 * the page behind a p99 and what it spent. One repository grown to each size in SCALE_TAGS
 * (default 10000,100000; seeded directly, as BENCH_SEED=direct), then each listing walked
 * SCALE_ROUNDS times (default 5); SCALE_REPOS=1000,10000 then grows the registry to those many
 * repositories and walks _catalog and DescribeRepositories the same way (SCALE_TAGS= for only
 * those). Per page: the client's time, the server's (its access log's
 * `ms`) and the GC pauses the server took meanwhile (a PerformanceObserver loaded before the
 * CLI); per walk: the server's CPU per page. SCALE_BASELINE=<another build's
 * dist/src/cli/main.js> (and/or SCALE_BASELINE_ENV=NAME=value,...) runs that build beside this one on the same seed, walks alternated, so
 * drift and load hit both; paired ratios of the medians at the end.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cliPath } from '../test/e2e/helpers/berth-process.js';
import { cpuSeconds, rssBytes, watchPeakRss } from './proc-stats.js';
import { benchGc, ecrPages, PAGE, type Page, ScaleSeeder, TAG_REPO, v2Pages } from './scale.js';
import { startBerthServer, type Server } from './servers.js';

const env = process.env;
const counts = (v: string | undefined, fallback: string) => (v ?? fallback).split(',').filter(Boolean).map(Number);
const sizes = counts(env.SCALE_TAGS, '10000,100000');
/** SCALE_REPOS=1000,10000: then the registry grown to that many repositories, its listings walked the same way. */
const repoSizes = counts(env.SCALE_REPOS, '');
const rounds = Number(env.SCALE_ROUNDS ?? 5);
const TAG_LISTINGS = ['tags/list', 'ListImages', 'DescribeImages'] as const;
const REPO_LISTINGS = ['_catalog', 'DescribeRepositories'] as const;
type Listing = (typeof TAG_LISTINGS)[number] | (typeof REPO_LISTINGS)[number];
/** SCALE_LISTINGS=DescribeImages,ListImages: only those (e.g. under a profiler). */
const only = env.SCALE_LISTINGS ? new Set(env.SCALE_LISTINGS.split(',')) : undefined;
const pick = (all: readonly Listing[]) => all.filter((l) => !only || only.has(l));

interface Build {
  name: string;
  server: Server;
  seeder: ScaleSeeder;
  accessLog: string;
  gcLog: string;
  /** Per request: the main thread's CPU ms from its start to its answer's end (the wrapper's). */
  cpuLog: string;
  wrapper: string;
  logLines: number;
  cpuLines: number;
}

/**
 * Loads a GC observer into the server before its CLI: each pause with its wall-clock start; and
 * each request's main-thread CPU from its start to its answer's end, so that a slow page shows
 * whether the server worked longer or waited (for a core, a lock, another task on its loop).
 */
function gcWrapper(dir: string, cli: string): string {
  const path = join(dir, `gc-wrap-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    path,
    `import { PerformanceObserver } from 'node:perf_hooks';
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
const file = process.env.SCALE_GC_LOG;
const cpuFile = process.env.SCALE_CPU_LOG;
const started = new WeakMap();
const cpuMs = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const us = () => Number(process.hrtime.bigint() / 1000n);
subscribe('http.server.request.start', ({ response }) => started.set(response, [cpuMs(), us()]));
subscribe('http.server.response.finish', ({ response }) => {
  const t = started.get(response);
  // Also the request's window on the monotonic clock, in µs: a --cpu-prof's samples fall in it.
  if (t !== undefined) appendFileSync(cpuFile, (cpuMs() - t[0]).toFixed(2) + ' ' + t[1] + ' ' + us() + '\\n');
});
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    appendFileSync(file, (performance.timeOrigin + e.startTime).toFixed(2) + ' ' + e.duration.toFixed(2) + ' ' + e.detail.kind + '\\n');
}).observe({ entryTypes: ['gc'] });
process.argv[1] = ${JSON.stringify(cli)};
await import(${JSON.stringify(cli)});
`,
  );
  return path;
}

async function startBuild(workDir: string, name: string, cli: string, extraEnv: Record<string, string> = {}): Promise<Build> {
  const accessLog = join(workDir, `access-${name}-${Date.now()}.log`);
  const gcLog = join(workDir, `gc-${name}-${Date.now()}.log`);
  const cpuLog = join(workDir, `cpu-${name}-${Date.now()}.log`);
  writeFileSync(gcLog, '');
  writeFileSync(cpuLog, '');
  const wrapper = gcWrapper(workDir, cli);
  const server = await startBerthServer(workDir, {
    name,
    cli: wrapper,
    env: { ...extraEnv, BERTH_ACCESS_LOG: accessLog, SCALE_GC_LOG: gcLog, SCALE_CPU_LOG: cpuLog },
  });
  return { name, server, seeder: new ScaleSeeder(server, 'direct'), accessLog, gcLog, cpuLog, wrapper, logLines: 0, cpuLines: 0 };
}

const now = () => performance.timeOrigin + performance.now();

/** The `ms` of the access log's lines after the ones already read, waiting for `count` of them. */
async function serverTimes(b: Build, count: number): Promise<number[]> {
  for (let tries = 0; ; tries++) {
    const lines = existsSync(b.accessLog) ? readFileSync(b.accessLog, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= b.logLines + count || tries > 200) {
      const fresh = lines.slice(b.logLines);
      b.logLines = lines.length;
      return fresh.slice(-count).map((l) => (JSON.parse(l) as { ms: number }).ms);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The CPU ms of the last `count` requests logged after the ones already read. */
function serverCpu(b: Build, count: number): number[] {
  const lines = readFileSync(b.cpuLog, 'utf8').split('\n').filter(Boolean);
  const fresh = lines.slice(b.cpuLines);
  b.cpuLines = lines.length;
  return fresh.slice(-count).map((l) => Number(l.split(' ')[0]));
}

/** This process's own GC pauses (the bench's: its client's time includes them). */
const benchPauses: Array<{ at: number; ms: number; kind: number }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    benchPauses.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, kind: (e as unknown as { detail: { kind: number } }).detail.kind });
}).observe({ entryTypes: ['gc'] });

function gcPauses(b: Build): Array<{ at: number; ms: number; kind: number }> {
  return readFileSync(b.gcLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [at, ms, kind] = l.split(' ').map(Number);
      return { at: at!, ms: ms!, kind: kind! };
    });
}

function reader(s: Server, what: Listing): (token?: string) => Promise<Page> {
  if (what === 'tags/list') return v2Pages(s, `/v2/${TAG_REPO}/tags/list?n=${PAGE}`, 'tags');
  if (what === '_catalog') return v2Pages(s, `/v2/_catalog?n=${PAGE}`, 'repositories');
  return ecrPages(s, what);
}

interface Walk {
  client: number[];
  server: number[];
  gc: number[];
  major: number[];
  /** The server's main-thread CPU per request, ms. */
  cpu: number[];
  /** The bench's own GC pauses inside each page's window, ms. */
  benchGc: number[];
  /** The server's RSS (with its children) before the walk and at its peak during it, MB. */
  rssMB: [number, number];
  cpuMsPerPage: number;
}

async function walk(b: Build, what: Listing): Promise<Walk> {
  const read = reader(b.server, what);
  const client: number[] = [];
  const windows: Array<[number, number]> = [];
  const cpu0 = cpuSeconds(b.server.pid);
  const rssBefore = rssBytes(b.server.pid);
  const peak = watchPeakRss(b.server.pid);
  benchGc.beforeWalk();
  let token: string | undefined;
  do {
    const t = now();
    const r = await read(token);
    windows.push([t, now()]);
    await benchGc.afterPage();
    client.push(r.ms);
    token = r.next;
  } while (token !== undefined);
  const cpu = cpuSeconds(b.server.pid) - cpu0;
  const rssMB: [number, number] = [rssBefore / 2 ** 20, peak() / 2 ** 20];
  const server = await serverTimes(b, client.length);
  const pauses = gcPauses(b);
  const during = (from: number, to: number, kinds: number) => pauses.filter((p) => p.at >= from && p.at <= to && (p.kind & kinds) !== 0);
  const gc = windows.map(([from, to]) => during(from, to, ~0).reduce((a, p) => a + p.ms, 0));
  // Mark-compacts (kind 2) and their incremental steps (4): the old generation's collections.
  const major = windows.map(([from, to]) => during(from, to, 2 | 4).reduce((a, p) => a + p.ms, 0));
  const ownGc = windows.map(([from, to]) => benchPauses.filter((p) => p.at >= from && p.at <= to).reduce((a, p) => a + p.ms, 0));
  if (env.SCALE_DEBUG_GC)
    for (const [from, to] of windows)
      for (const p of benchPauses)
        if (p.at >= from && p.at <= to && p.ms > 2)
          console.error(`bench gc in page: ${p.ms.toFixed(1)} ms kind ${p.kind} at +${(p.at - from).toFixed(1)} of ${(to - from).toFixed(1)}`);
  return { client, server, gc, major, cpu: serverCpu(b, client.length), benchGc: ownGc, rssMB, cpuMsPerPage: (cpu * 1000) / client.length };
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(0.99 * xs.length) - 1)]!;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  const out = join(workDir, `scale-pages-${Date.now()}.log`);
  const say = (line: string) => {
    console.log(line);
    appendFileSync(out, `${line}\n`);
  };
  const builds = [await startBuild(workDir, 'new', cliPath)];
  // SCALE_BASELINE_ENV=NAME=value,NAME=value: the baseline's environment; alone, the baseline is this build with it.
  const baseEnv = Object.fromEntries(
    (env.SCALE_BASELINE_ENV ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  if (env.SCALE_BASELINE || env.SCALE_BASELINE_ENV) builds.push(await startBuild(workDir, 'base', env.SCALE_BASELINE ?? cliPath, baseEnv));
  try {
    const phases = [
      ...sizes.map((size) => ({ size, unit: 'tags', listings: pick(TAG_LISTINGS) })),
      ...repoSizes.map((size) => ({ size, unit: 'repositories', listings: pick(REPO_LISTINGS) })),
    ];
    const from: Record<string, number> = { tags: 0, repositories: 0 };
    for (const { size, unit, listings } of phases) {
      for (const b of builds) await (unit === 'tags' ? b.seeder.tags(from[unit]!, size) : b.seeder.repositories(from[unit]!, size));
      from[unit] = size;
      say(`# ${size} ${unit}, load ${loadavg()}`);
      const all: Record<string, Walk[]> = {};
      for (let round = 0; round < rounds; round++) {
        for (const what of listings) {
          // Alternated, and the order flipped each round: neither build always reads first.
          for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
            const w = await walk(b, what);
            (all[`${b.name} ${what}`] ??= []).push(w);
            say(
              `${size} r${round} ${b.name} ${what}: cpu/page ${w.cpuMsPerPage.toFixed(1)} ms | RSS ${w.rssMB[0].toFixed(0)} → ${w.rssMB[1].toFixed(0)} MB | client ${fmt(w.client)} | server ${fmt(w.server)} | server thread cpu ${fmt(w.cpu)} | gc ${fmt(w.gc)} | of which mark-compact ${fmt(w.major)} | bench gc ${fmt(w.benchGc)}`,
            );
          }
        }
      }
      say(`# ${size} ${unit} summary (all pages of ${rounds} walks), load ${loadavg()}`);
      for (const [key, ws] of Object.entries(all)) {
        const c = ws.flatMap((w) => w.client);
        const s = ws.flatMap((w) => w.server);
        const g = ws.flatMap((w) => w.gc);
        const m = ws.flatMap((w) => w.major);
        const tc = ws.flatMap((w) => w.cpu);
        const bg = ws.flatMap((w) => w.benchGc);
        const cpu = ws.map((w) => w.cpuMsPerPage);
        say(
          `${size} ${key}: client p50 ${median(c).toFixed(1)} p99 ${p99(c).toFixed(1)} max ${Math.max(...c).toFixed(1)} | server p50 ${median(s).toFixed(1)} p99 ${p99(s).toFixed(1)} | thread cpu p50 ${median(tc).toFixed(1)} p99 ${p99(tc).toFixed(1)} | bench gc max/page ${Math.max(...bg).toFixed(1)} | gc total ${g.reduce((a, x) => a + x, 0).toFixed(0)} ms, max/page ${Math.max(...g).toFixed(1)}, mark-compact ${m.reduce((a, x) => a + x, 0).toFixed(0)} ms | cpu/page median ${median(cpu).toFixed(1)} ms [${fmt(cpu)}]`,
        );
      }
      if (builds.length === 2)
        for (const what of listings) {
          const ratio = (f: (w: Walk) => number) =>
            all[`new ${what}`]!.map((w, i) => f(w) / f(all[`base ${what}`]![i]!)).sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
          say(
            `${size} ${what} new/base, median of paired walks: client p50 ${ratio((w) => median(w.client)).toFixed(2)}, slowest page ${ratio((w) => Math.max(...w.client)).toFixed(2)}, cpu/page ${ratio((w) => w.cpuMsPerPage).toFixed(2)}, server thread cpu p50 ${ratio((w) => median(w.cpu)).toFixed(2)}`,
          );
        }
    }
  } finally {
    await Promise.all(builds.map((b) => b.server.stop().catch(() => undefined)));
    // The per-page log above keeps what was read from these.
    // SCALE_KEEP_LOGS=1 keeps them: the CPU log's request windows place a --cpu-prof's samples.
    if (!env.SCALE_KEEP_LOGS) await Promise.all(builds.flatMap((b) => [b.accessLog, b.gcLog, b.cpuLog, b.wrapper].map((f) => rm(f, { force: true }))));
    else for (const b of builds) console.error(`kept ${b.cpuLog}`);
  }
  console.error(`written to ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
