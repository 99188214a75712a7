/**
 * What Prometheus metrics cost (issue #15: under 5% lower with them on): two Berth servers, one
 * with a metrics port (scraped every 5 s while loaded, as a Prometheus would, a little more often
 * than the usual 15 s) and one without, measured in alternating rounds so a busy machine's drift
 * hits both alike: manifest GETs (autocannon in its own process, 16 connections) and pushes
 * (4 concurrent loops of a 64 KiB blob upload plus a manifest put). Both record transfer for
 * `berth usage`, which is always on. Prints each round and the on/off ratios, of throughput and of
 * the server's CPU time per manifest GET and per pushed image (from /proc: steadier than
 * throughput when other work shares the machine).
 *
 *   BENCH_ENTRY=metrics-cost bash bench/run.sh      # BENCH_ROUNDS (default 3), BENCH_SECONDS (default 8)
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort } from '../test/e2e/helpers/berth-process.js';
import { pushBlob, putManifest } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startManifestLoad } from './load-child.js';
import { startBerthServer, type Server } from './servers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PUSH_LOOPS = 4;

async function seed(server: Server): Promise<string> {
  const config = await pushBlob(server, 'bench/load', 512, 1);
  const layer = await pushBlob(server, 'bench/load', 64 * 1024, 2);
  await putManifest(server, 'bench/load', 'v1', manifestOf(config, layer));
  return `${server.url}/v2/bench/load/manifests/v1`;
}

function manifestOf(config: string, layer: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 520 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 64 * 1024 + 8 }],
  });
}

/** Scrapes `url` every 5 s until stopped; returns how many scrapes succeeded. */
function scraper(url: string | undefined): () => Promise<number> {
  if (!url) return async () => 0;
  let ok = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await fetch(url).catch(() => undefined);
      if (r?.status === 200) ok++;
      await r?.arrayBuffer();
      await new Promise((res) => setTimeout(res, 5000));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return ok;
  };
}

interface Rate {
  perSecond: number;
  /** Server CPU microseconds per operation. */
  cpuUs: number;
}

async function manifestGets(server: Server, url: string, metricsUrl: string | undefined): Promise<Rate> {
  const load = startManifestLoad({
    url,
    connections: 16,
    seconds: SECONDS,
    headers: { ...server.headers, Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const stop = scraper(metricsUrl);
  const cpu0 = cpuSeconds(server.pid);
  const r = await load.go();
  const cpu = cpuSeconds(server.pid) - cpu0;
  await stop();
  if (r.errors > 0) console.error(`${server.name}: ${r.errors} failed manifest GETs`);
  return { perSecond: r.perSecond, cpuUs: (cpu * 1e6) / (r.perSecond * SECONDS) };
}

let salt = 1000;
async function pushes(server: Server, metricsUrl: string | undefined): Promise<Rate> {
  const until = Date.now() + SECONDS * 1000;
  const stop = scraper(metricsUrl);
  const cpu0 = cpuSeconds(server.pid);
  let done = 0;
  await Promise.all(
    Array.from({ length: PUSH_LOOPS }, async () => {
      while (Date.now() < until) {
        const n = salt++;
        const config = await pushBlob(server, 'bench/push', 512, n);
        const layer = await pushBlob(server, 'bench/push', 64 * 1024, n + 0.5);
        await putManifest(server, 'bench/push', `t${n}`, manifestOf(config, layer));
        done++;
      }
    }),
  );
  const cpu = cpuSeconds(server.pid) - cpu0;
  await stop();
  return { perSecond: done / SECONDS, cpuUs: (cpu * 1e6) / done };
}

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  const dir = await mkdtemp(join(workDir, 'metrics-cost-'));
  const metricsPort = await freePort();
  const quiet = { BERTH_GC_INTERVAL_SECONDS: '0', BERTH_LIFECYCLE_INTERVAL_SECONDS: '0' };
  const off = await startBerthServer(dir, { name: 'metrics off', env: quiet });
  const on = await startBerthServer(dir, { name: 'metrics on', env: { ...quiet, BERTH_METRICS_PORT: String(metricsPort) } });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  try {
    const urls = new Map([
      [off, await seed(off)],
      [on, await seed(on)],
    ]);
    const figures = { off: { get: [] as Rate[], push: [] as Rate[] }, on: { get: [] as Rate[], push: [] as Rate[] } };
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so neither always follows the other's load.
      const order = round % 2 === 1 ? [off, on] : [on, off];
      for (const s of order) {
        const key = s === on ? 'on' : 'off';
        const m = s === on ? metricsUrl : undefined;
        figures[key].get.push(await manifestGets(s, urls.get(s)!, m));
        figures[key].push.push(await pushes(s, m));
        const g = figures[key].get.at(-1)!;
        const p = figures[key].push.at(-1)!;
        console.log(
          `round ${round} ${s.name.padEnd(12)} manifest GET ${g.perSecond.toFixed(0).padStart(6)} req/s ${g.cpuUs.toFixed(0).padStart(5)} CPU-µs/req   ` +
            `push ${p.perSecond.toFixed(1).padStart(6)} images/s ${p.cpuUs.toFixed(0).padStart(6)} CPU-µs/image`,
        );
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const line = (what: string, on: Rate[], off: Rate[], k: keyof Rate) => {
      const perRound = on.map((r, i) => (r[k] / off[i]![k]).toFixed(3)).join(' ');
      console.log(`${what.padEnd(24)} on/off mean ${(mean(on.map((r) => r[k])) / mean(off.map((r) => r[k]))).toFixed(3)} (per round ${perRound})`);
    };
    console.log('');
    line('manifest GET req/s', figures.on.get, figures.off.get, 'perSecond');
    line('manifest GET CPU-µs/req', figures.on.get, figures.off.get, 'cpuUs');
    line('push images/s', figures.on.push, figures.off.push, 'perSecond');
    line('push CPU-µs/image', figures.on.push, figures.off.push, 'cpuUs');
  } finally {
    await off.stop();
    await on.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
