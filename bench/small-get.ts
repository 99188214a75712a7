/**
 * `BENCH_ENTRY=small-get npm run bench`: the server CPU of small requests (issue #14, session 13):
 * a 512-byte blob's HEAD and GET, a 64 KiB blob's GET and a manifest GET by tag, each from
 * SMALL_CONNECTIONS (16) keep-alive loops for SMALL_SECONDS (5), charged with the server's whole
 * process tree from /proc. BENCH_BASELINE_CLI names another build's `dist/src/cli/main.js` (its
 * tree must resolve node_modules): both servers run side by side, alternated round by round
 * (SMALL_ROUNDS, 5), and the table gives medians and the median of the paired ratios.
 * SMALL_PARTS picks the lines ("head,get512,get64k,manifest"); `manifest-anon`,
 * `manifest-user` and `manifest-bearer` read the same small manifest anonymously from a public
 * repository, with an IAM user's login token (the PowerUser managed policy) and with a Bearer
 * token from /token, beside `manifest` (the root's login token): what each kind of caller costs
 * per request (bench/auth-cost.ts reads their rates). SMALL_PG=1 puts each server's metadata on
 * a throwaway PostgreSQL. Prints the load average per round.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { startTestPostgres } from '../src/metadata/postgres/testing/cluster.js';
import { prepareAuthCost } from './auth-cost.js';
import { seedManifest } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startBerthServer, type Server } from './servers.js';

const env = process.env;
const rounds = Number(env.SMALL_ROUNDS ?? 5);
const seconds = Number(env.SMALL_SECONDS ?? 5);
const connections = Number(env.SMALL_CONNECTIONS ?? 16);
/** No background sweeps during a measurement. */
const quiet = { BERTH_GC_INTERVAL_SECONDS: '0', BERTH_LIFECYCLE_INTERVAL_SECONDS: '0' };
const parts = (env.SMALL_PARTS ?? 'head,get512,get64k,manifest').split(',');

/** Requests done by `connections` keep-alive loops over `seconds`; any non-2xx is counted apart. */
async function loop(
  server: Server,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  secs = seconds,
): Promise<{ done: number; errors: number; secs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(path, server.url);
  const until = Date.now() + secs * 1000;
  let done = 0;
  let errors = 0;
  // An empty Authorization sends none (the server's headers carry the root's login token).
  const sent: Record<string, string> = { ...server.headers, ...headers };
  if (sent.Authorization === '') delete sent.Authorization;
  const one = () =>
    new Promise<number>((res) => {
      const req = request(url, { method, agent, headers: sent }, (r) => {
        r.on('data', () => undefined);
        r.on('end', () => res(r.statusCode ?? 0));
        r.on('error', () => res(0));
      });
      req.on('error', () => res(0));
      req.end();
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        const status = await one();
        if (status >= 200 && status < 300) done++;
        else errors++;
      }
    }),
  );
  agent.destroy();
  return { done, errors, secs: (Date.now() - started) / 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  // SMALL_PG=1: each server on a database of its own on one throwaway PostgreSQL (blobs stay on fs).
  const pg = env.SMALL_PG === '1' ? await startTestPostgres() : undefined;
  if (env.SMALL_PG === '1' && !pg) throw new Error('SMALL_PG=1 needs PostgreSQL');
  const dbEnv = async (): Promise<Record<string, string>> =>
    pg ? { BERTH_DATABASE_URL: (await pg.newDatabase()).connectionString, BERTH_SERVER_KEY: randomBytes(32).toString('base64') } : {};
  const servers: Server[] = [
    // SMALL_PROFILE_DIR: a --cpu-prof of this build's server, written when it stops.
    await startBerthServer(workDir, {
      name: 'new',
      env: { ...quiet, ...(await dbEnv()), ...(env.SMALL_PROFILE_DIR && { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${env.SMALL_PROFILE_DIR}` }) },
    }),
  ];
  if (env.BENCH_BASELINE_CLI)
    servers.push(await startBerthServer(workDir, { cli: env.BENCH_BASELINE_CLI, name: 'base', env: { ...quiet, ...(await dbEnv()) } }));
  try {
    const seeds = await Promise.all(
      servers.map(async (s) => {
        const m = await seedManifest(s, 'bench/small');
        const manifest = await fetch(new URL(m.manifestPath, s.url), {
          headers: { ...s.headers, Accept: 'application/vnd.oci.image.manifest.v1+json' },
        }).then((r) => r.json() as Promise<{ config: { digest: string } }>);
        return { ...m, configPath: `/v2/bench/small/blobs/${manifest.config.digest}` };
      }),
    );
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    // The other callers' lines, only when asked for (a public repository and an IAM user on each server).
    const callers = parts.some((p) => p.startsWith('manifest-'))
      ? await Promise.all(
          servers.map(async (s) => {
            const a = await prepareAuthCost(s, s.admin!, async (repo) => (await seedManifest(s, repo)).manifestPath);
            const t = await fetch(new URL('/token?service=bench&scope=repository:bench/small:pull', s.url), { headers: s.headers });
            const { token } = (await t.json()) as { token?: string };
            if (!token) throw new Error(`${s.name}: no Bearer token from /token (${t.status})`);
            return { ...a, bearer: `Bearer ${token}` };
          }),
        )
      : [];
    const as = (authorization: string | undefined) => ({ ...accept, Authorization: authorization ?? '' });
    const lines: Record<string, (i: number) => [string, string, Record<string, string>?]> = {
      head: (i) => ['HEAD', seeds[i]!.configPath],
      get512: (i) => ['GET', seeds[i]!.configPath],
      get64k: (i) => ['GET', seeds[i]!.blobPath],
      manifest: (i) => ['GET', seeds[i]!.manifestPath, accept],
      'manifest-anon': (i) => ['GET', callers[i]!.publicManifestPath, as(undefined)],
      'manifest-user': (i) => ['GET', callers[i]!.privateManifestPath, as(callers[i]!.userAuthorization)],
      'manifest-bearer': (i) => ['GET', seeds[i]!.manifestPath, as(callers[i]!.bearer)],
    };
    const figures = new Map<string, number[]>();
    const rec = (k: string, v: number) => figures.set(k, [...(figures.get(k) ?? []), v]);
    // Warm-up: the JIT and the read caches, unmeasured.
    for (const part of parts) for (const i of servers.keys()) await loop(servers[i]!, ...lines[part]!(i), 1);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers.map((_, i) => i) : servers.map((_, i) => i).reverse();
      for (const part of parts) {
        for (const i of order) {
          const s = servers[i]!;
          const [method, path, headers] = lines[part]!(i);
          const cpu0 = cpuSeconds(s.pid);
          const r = await loop(s, method, path, headers);
          const cpu = cpuSeconds(s.pid) - cpu0;
          const us = (cpu / r.done) * 1e6;
          rec(`${part} ${s.name} us/req`, us);
          rec(`${part} ${s.name} req/s`, r.done / r.secs);
          console.error(
            `round ${round + 1} ${part} ${s.name}: ${(r.done / r.secs).toFixed(0)} req/s, ${us.toFixed(0)} µs CPU/req, errors ${r.errors}, load ${loadavg()[0]!.toFixed(2)}`,
          );
        }
      }
    }
    for (const part of parts) {
      for (const s of servers) {
        console.log(
          `${part} ${s.name}: median ${median(figures.get(`${part} ${s.name} us/req`)!).toFixed(0)} µs CPU/req, ${median(figures.get(`${part} ${s.name} req/s`)!).toFixed(0)} req/s`,
        );
      }
      if (servers.length === 2) {
        const a = figures.get(`${part} new us/req`)!;
        const b = figures.get(`${part} base us/req`)!;
        const ra = figures.get(`${part} new req/s`)!;
        const rb = figures.get(`${part} base req/s`)!;
        console.log(
          `${part} new/base: CPU/req paired ratios ${a.map((x, k) => (x / b[k]!).toFixed(2)).join(' ')} (median ${median(a.map((x, k) => x / b[k]!)).toFixed(2)}), req/s median ratio ${median(ra.map((x, k) => x / rb[k]!)).toFixed(2)}`,
        );
      }
    }
  } finally {
    for (const s of servers) await s.stop();
    await pg?.stop();
  }
}

await main();
