/**
 * The cost of events on the push path: manifest pushes per second into a Berth with no rule,
 * and into one with a rule matching every event and an API destination on a local receiver
 * (`npm run bench:events`; BENCH_SECONDS per round, default 10). With BENCH_BASE_CLI (the
 * dist/src/cli/main.js of a build without events) a third server shows what the outbox itself
 * costs. The servers run side by side, measured in rotating order; read the ratios.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/e2e/helpers/berth-process.js';
import { pushBlob, putManifest } from './http-client.js';
import { startBerthServer, type Server } from './servers.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 8;

async function route(server: Server, receiverUrl: string): Promise<void> {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: server.url,
    AWS_ACCESS_KEY_ID: server.admin!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.admin!.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  const events = async (...args: string[]) =>
    JSON.parse((await run('aws', ['events', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, string>;
  const conn = await events(
    'create-connection',
    '--name',
    'c',
    '--authorization-type',
    'API_KEY',
    '--auth-parameters',
    '{"ApiKeyAuthParameters":{"ApiKeyName":"k","ApiKeyValue":"v"}}',
  );
  const dest = await events(
    'create-api-destination',
    '--cli-input-json',
    JSON.stringify({ Name: 'd', ConnectionArn: conn.ConnectionArn, InvocationEndpoint: receiverUrl, HttpMethod: 'POST', InvocationRateLimitPerSecond: 300 }),
  );
  await events('put-rule', '--name', 'all', '--event-pattern', '{"source":["aws.ecr"]}');
  await events('put-targets', '--rule', 'all', '--targets', JSON.stringify([{ Id: 't', Arn: dest.ApiDestinationArn }]));
}

async function pushRate(server: Server, round: number): Promise<number> {
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
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => loop(c)));
  return n / ((Date.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = await mkdtemp(join(tmpdir(), 'berth-bench-events-'));
// The receiver runs in its own process: in this one it would slow the load generator, and only
// while the "events on" server is measured.
const port = await freePort();
const receiver = spawn(
  process.execPath,
  [
    '-e',
    `let n = 0;
     require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => { n++; res.writeHead(200).end(); }); })
       .listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));
     process.on('SIGTERM', () => { process.stdout.write(n + '\\n'); process.exit(0); });`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let receiverOut = '';
receiver.stdout!.on('data', (d: Buffer) => (receiverOut += d.toString()));
await new Promise<void>((res) => receiver.stdout!.once('data', () => res()));
const servers: Array<[string, Server]> = [];
const baseCli = process.env.BENCH_BASE_CLI;
if (baseCli !== undefined) servers.push(['base (no events code)', await startBerthServer(work, { name: 'base', cli: baseCli })]);
servers.push(['events off (no rule)', await startBerthServer(work, { name: 'events off' })]);
const on = await startBerthServer(work, { name: 'events on' });
servers.push(['events on (1 rule, 1 target)', on]);
try {
  await route(on, `http://127.0.0.1:${port}/hook`);
  const rates = new Map<string, number[]>(servers.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotating order, so no server always runs on the warmer (or busier) machine.
    for (let i = 0; i < servers.length; i++) {
      const [name, server] = servers[(i + round) % servers.length]!;
      rates.get(name)!.push(await pushRate(server, round));
    }
  }
  console.log(`manifest pushes/s, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s (median, then each round):`);
  const reference = median(rates.get(servers[0]![0])!);
  for (const [name] of servers) {
    const r = rates.get(name)!;
    console.log(`  ${name.padEnd(30)} ${median(r).toFixed(1).padStart(7)}  x${(median(r) / reference).toFixed(3)}   ${r.map((x) => x.toFixed(1)).join(' ')}`);
  }
} finally {
  for (const [, server] of servers) await server.stop();
  const exited = new Promise((res) => receiver.once('exit', res));
  receiver.kill('SIGTERM');
  await exited;
  console.log(`  events received by the target: ${receiverOut.split('\n')[1] ?? '?'}`);
  await rm(work, { recursive: true, force: true });
}
