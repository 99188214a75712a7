/**
 * The cost of events on the push path: manifest pushes per second into a Berth with no rule,
 * and into one with a rule matching every event and an API destination on a local receiver
 * (`npm run bench:events`; BENCH_SECONDS per round, default 10). With BENCH_BASE_CLI (the
 * dist/src/cli/main.js of a build without events) a third server shows what the outbox itself
 * costs. The servers run side by side, measured in rotating order; read the ratios.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeEvents, startReceiver } from './event-target.js';
import { pushBlob, putManifest } from './http-client.js';
import { cpuSeconds } from './proc-stats.js';
import { startBerthServer, type Server } from './servers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 8;

/** Manifest pushes per second, and the server's CPU (process tree) per push in µs. */
async function pushRate(server: Server, round: number): Promise<{ rate: number; cpuUs: number }> {
  const repo = 'bench/events';
  const config = await pushBlob(server, repo, 1024, round * 2);
  const layer = await pushBlob(server, repo, 4096, round * 2 + 1);
  let n = 0;
  const until = Date.now() + SECONDS * 1000;
  const loop = async (c: number) => {
    for (let i = 0; Date.now() < until; i++) {
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1032 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 4104 }],
        annotations: { salt: `${round}-${c}-${i}` },
      });
      await putManifest(server, repo, `r${round}-c${c}-${i}`, manifest);
      n++;
    }
  };
  const started = Date.now();
  const cpu0 = cpuSeconds(server.pid);
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => loop(c)));
  return { rate: n / ((Date.now() - started) / 1000), cpuUs: ((cpuSeconds(server.pid) - cpu0) * 1e6) / Math.max(1, n) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = await mkdtemp(join(tmpdir(), 'berth-bench-events-'));
const receiver = await startReceiver();
const servers: Array<[string, Server]> = [];
const baseCli = process.env.BENCH_BASE_CLI;
if (baseCli !== undefined) servers.push(['base (no events code)', await startBerthServer(work, { name: 'base', cli: baseCli })]);
servers.push(['events off (no rule)', await startBerthServer(work, { name: 'events off' })]);
const on = await startBerthServer(work, { name: 'events on' });
servers.push(['events on (1 rule, 1 target)', on]);
try {
  await routeEvents(on, receiver.url);
  const rates = new Map<string, number[]>(servers.map(([name]) => [name, []]));
  const cpus = new Map<string, number[]>(servers.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotating order, so no server always runs on the warmer (or busier) machine.
    for (let i = 0; i < servers.length; i++) {
      const [name, server] = servers[(i + round) % servers.length]!;
      const r = await pushRate(server, round);
      rates.get(name)!.push(r.rate);
      cpus.get(name)!.push(r.cpuUs);
    }
  }
  console.log(`manifest pushes, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s (median, ratio to the first, then each round):`);
  for (const [what, figures, digits] of [
    ['pushes/s', rates, 1],
    ['server CPU-µs per push', cpus, 0],
  ] as const) {
    console.log(`${what}:`);
    const reference = median(figures.get(servers[0]![0])!);
    for (const [name] of servers) {
      const r = figures.get(name)!;
      console.log(
        `  ${name.padEnd(30)} ${median(r).toFixed(digits).padStart(7)}  x${(median(r) / reference).toFixed(3)}   ${r.map((x) => x.toFixed(digits)).join(' ')}`,
      );
    }
  }
} finally {
  for (const [, server] of servers) await server.stop();
  console.log(`  events received by the target: ${await receiver.stop()}`);
  await rm(work, { recursive: true, force: true });
}
