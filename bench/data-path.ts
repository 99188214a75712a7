/**
 * The data-path lines issue #14 asks for, run by `npm run bench` after the older lines: raw curl
 * of one large blob each way, manifest GETs while 100 slow uploads stream, server memory while
 * many uploads stream, and listings at scale (on fresh servers). Servers alternate per round.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { machineLimits } from './cpu-limits.js';
import { headerFile } from './curl.js';
import { curlRaw } from './curl-raw.js';
import { memoryCrowds } from './memory-crowds.js';
import { mixedLoad } from './mixed-load.js';
import type { Results } from './report.js';
import { describe } from './round-stats.js';
import { settleBeforeWindow, type MixedSettle } from './settle.js';
import { measureRepositoryListings, measureTagListings, ScaleSeeder, type SeedMode, type WalkPlan } from './scale.js';
import { probeFiles, serverProbe } from './server-probe.js';
import { startBerthServer, startReferenceServer, type Server } from './servers.js';
import { cliPath } from '../test/e2e/helpers/berth-process.js';
import { makeUploadFiles } from './streaming-uploads.js';

export interface DataPathParams {
  curlBytes: number;
  curlRounds: number;
  mixedRounds: number;
  mixedUploads: number;
  uploadBytes: number;
  /** curl's --limit-rate per upload. */
  uploadRate: string;
  mixedConnections: number;
  mixedSeconds: number;
  /**
   * When the mixed part waits for a settled machine (bench/settle.ts): before every server's
   * window ('each', the default), only before the part's first window ('part'), or never ('off').
   */
  mixedSettle?: MixedSettle;
  /** Crowd sizes for the memory line, small then large. */
  rssUploads: [number, number];
  /** Pairs of crowds per server for the memory line (bench/memory-crowds.ts). */
  rssPairs: number;
  /** Sizes the tag repository is measured at, growing. */
  tagCounts: number[];
  repoCounts: number[];
  /** How often each listing is walked at each size (scale.ts, WalkPlan). */
  listingPlan: WalkPlan;
  /** How the listings at scale are seeded (BENCH_SEED). */
  seed: SeedMode;
  cpuLimitMiB: number;
  /** Which of the parts below run (curl, mixed, memory); all when absent. */
  parts?: ReadonlySet<string>;
}

const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));

export async function machineContext(p: DataPathParams, results: Results): Promise<void> {
  const limits = await machineLimits(p.cpuLimitMiB);
  for (const [name, v] of Object.entries(limits)) results.note(`machine: ${name}`, v);
}

export async function dataPath(servers: Server[], manifestPaths: string[], workDir: string, p: DataPathParams, results: Results): Promise<void> {
  const dir = await mkdtemp(join(workDir, 'data-path-'));
  const has = (part: string) => p.parts?.has(part) ?? true;
  try {
    if (has('curl')) await results.part('raw curl', () => curlRaw(servers, dir, p.curlBytes, p.curlRounds, results.record));
    const headers = await Promise.all(servers.map((s) => headerFile(s, dir)));

    const mixedName = `mixed: manifest GET, ${p.mixedUploads} uploads at ${p.uploadRate}B/s`;
    if (has('mixed'))
      await results.part('mixed load', async () => {
        for (let round = 0; round < p.mixedRounds; round++) {
          const files = await makeUploadFiles(dir, p.mixedUploads, p.uploadBytes, `mixed ${round}`);
          try {
            // Each round starts with the next server: the one after another's 100 uploads finds
            // their dirty pages being written back (the second of three had half the rate, whichever build it was).
            const order = [...servers.entries()].map((_, k, all) => all[(k + round) % all.length]!);
            for (const [j, [i, s]] of order.entries()) {
              console.error(`mixed load, round ${round + 1}/${p.mixedRounds}: ${s.name}`);
              // The servers' data and the crowd's files: what the previous parts and crowds left dirty.
              const settled = await settleBeforeWindow(p.mixedSettle ?? 'each', round === 0 && j === 0, [dir, ...servers.map((x) => x.dataDir)]);
              if (settled) console.error(`  ${settled}`);
              const load = await mixedLoad(
                s,
                headers[i]!,
                files.files,
                { manifestPath: manifestPaths[i]!, connections: p.mixedConnections, seconds: p.mixedSeconds, rate: p.uploadRate },
                round,
              );
              console.error(
                `  ${load.perSecond.toFixed(1)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, max ${load.maxMs} ms; the window, opened ${load.rampSeconds.toFixed(1)} s after the call (the uploads' ramp):\n${describe(load.window)}`,
              );
              results.record(s, `${mixedName}: req/s`, load.perSecond);
              results.record(s, `${mixedName}: p50 ms`, load.p50Ms);
              results.record(s, `${mixedName}: p99 ms`, load.p99Ms);
              results.record(s, `${mixedName}: uploads still streaming at the window's end`, load.streamingAtEnd);
              results.record(s, `${mixedName}: GETs failed or timed out (10 s)`, load.errors);
            }
          } finally {
            await files.remove();
          }
        }
      });

    if (has('memory')) await results.part('memory under many uploads', () => memoryCrowds(servers, headers, dir, p, results));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `baseline`: another Berth (BENCH_BASELINE_CLI / BENCH_BASELINE_ENV, named BASELINE) seeded and
 * walked the same way beside this build, each on its own fresh server.
 */
export async function scaleListings(
  workDir: string,
  p: DataPathParams,
  results: Results,
  baseline?: { cli?: string; env?: Record<string, string>; name: string },
): Promise<void> {
  // Every page says how long the server itself took (a build without the setting says n/a).
  // Not the access log: its writes made the 100,000-tag DescribeImages walk slower (session 27).
  const timed = (env?: Record<string, string>) => ({ BERTH_SERVER_TIMING: '1', ...env });
  // Each Berth through the probe: a slow page then says whether the server's loop was held, by its
  // own work or the machine. BENCH_SCALE_PROBE=0: without it (its timer wakes the loop 100 times a second).
  const probed = async (name: string, cli: string, env?: Record<string, string>): Promise<Server> => {
    if (process.env.BENCH_SCALE_PROBE === '0') return startBerthServer(workDir, { name, cli, env: timed(env) });
    const probe = serverProbe(workDir, name, cli);
    const server = await startBerthServer(workDir, { name, cli: probe.cli, env: { ...timed(env), ...probe.env } });
    return Object.assign(server, { probe });
  };
  const servers = [await probed('berth', cliPath)];
  // BENCH_BASELINE_FIRST=1: the baseline seeded and walked before this build at each size.
  if (baseline) servers.splice(process.env.BENCH_BASELINE_FIRST === '1' ? 0 : 1, 0, await probed(baseline.name, baseline.cli ?? cliPath, baseline.env));
  servers.push(await startReferenceServer(workDir));
  try {
    const seeders = servers.map((s) => new ScaleSeeder(s, p.seed));
    await results.part('listings at scale: tags', async () => {
      let tags = 0;
      for (const count of p.tagCounts) {
        for (const [i, s] of servers.entries()) {
          console.error(`scale: ${s.name} grows one repository from ${tags} to ${count} tags`);
          const rate = await seeders[i]!.tags(tags, count);
          results.note(`seeding ${s.name} (${p.seed}): images/s, up to ${k(count)} tags`, rate);
          await measureTagListings(s, `${k(count)} tags`, p.listingPlan, results.record);
        }
        tags = count;
      }
    });
    await results.part('listings at scale: repositories', async () => {
      let repos = 0;
      for (const count of p.repoCounts) {
        for (const [i, s] of servers.entries()) {
          console.error(`scale: ${s.name} grows from ${repos} to ${count} repositories`);
          const rate = await seeders[i]!.repositories(repos, count);
          results.note(`seeding ${s.name} (${p.seed}): repositories/s, up to ${k(count)}`, rate);
          await measureRepositoryListings(s, `${k(count)} repositories`, p.listingPlan, results.record);
        }
        repos = count;
      }
    });
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
    await Promise.all(servers.flatMap((s) => (s.probe ? probeFiles(s.probe) : [])).map((f) => rm(f, { force: true })));
  }
}
