/**
 * What the audit trail costs: two Berth servers side by side, one with the trail on (the
 * default, auditRetentionDays 90) and one with it off (0), measured in alternating rounds on
 * the same machine so that noise hits both alike. Figures: manifest GET requests/s under
 * keep-alive load, and small-image pushes/s (config + layer blobs as POST/PATCH/PUT, then the
 * manifest PUT: five recorded requests per image, the trail's worst case per byte). The issue's
 * bar: under 5% lower with the trail on. `npm run bench:audit`; BENCH_QUICK=1 for a smoke run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushBlob, putManifest, requestRate } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startBerthServer, type Server } from './servers.js';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 4));
const LOAD_SECONDS = quick ? 2 : 8;
const CONNECTIONS = 32;
const PUSH_SECONDS = quick ? 2 : 8;
const PUSHERS = 4;

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

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-audit-'));
  const on = await startBerthServer(work, {
    name: 'audit on',
    ...(process.env.BENCH_PROFILE && { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } }),
  });
  const off = await startBerthServer(work, { name: 'audit off', env: { BERTH_AUDIT_RETENTION_DAYS: '0' } });
  const figures: Record<string, Record<string, number[]>> = {};
  const record = (s: Server, name: string, v: number) => ((figures[name] ??= {})[s.name] ??= []).push(v);
  try {
    const paths = new Map<Server, string>();
    for (const s of [on, off]) {
      const config = await pushBlob(s, 'bench/load', 512, 1);
      const layer = await pushBlob(s, 'bench/load', 4096, 2);
      await putManifest(s, 'bench/load', 'v1', manifestOf(config, layer));
      paths.set(s, '/v2/bench/load/manifests/v1');
    }
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which server goes first, so neither always meets a warmer or cooler machine.
      const order = round % 2 === 0 ? [on, off] : [off, on];
      for (const s of order) {
        const cpu0 = cpuSeconds(s.pid);
        const m = await requestRate(s, 'GET', paths.get(s)!, { connections: CONNECTIONS, seconds: LOAD_SECONDS, headers: accept });
        if (m.errors > 0) throw new Error(`${s.name}: ${m.errors} manifest GETs failed`);
        record(s, 'manifest GET req/s', m.perSecond);
        // The server's CPU per request: what the trail costs, whatever else runs on the machine.
        record(s, 'server CPU-µs per manifest GET', ((cpuSeconds(s.pid) - cpu0) * 1e6) / (m.perSecond * LOAD_SECONDS));
      }
      for (const s of order) {
        const cpu0 = cpuSeconds(s.pid);
        const p = await pushRate(s, round + (s === on ? 0 : 500));
        record(s, 'small-image pushes/s', p.perSecond);
        record(s, 'server CPU-ms per image push', ((cpuSeconds(s.pid) - cpu0) * 1e3) / Math.max(1, p.pushed));
      }
    }
  } finally {
    await on.stop();
    await off.stop();
    await rm(work, { recursive: true, force: true });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`audit trail cost: ${ROUNDS} alternating rounds, ${CONNECTIONS} connections for GETs, ${PUSHERS} pushers (CPU counts the server's process tree)`);
  for (const [name, by] of Object.entries(figures)) {
    const a = by['audit on']!;
    const b = by['audit off']!;
    console.log(
      `${name.padEnd(24)} on ${mean(a).toFixed(0).padStart(6)}  off ${mean(b).toFixed(0).padStart(6)}  on/off ${(mean(a) / mean(b)).toFixed(3)}  ` +
        `(rounds on: ${a.map((x) => x.toFixed(0)).join(' ')}; off: ${b.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
}

await main();
