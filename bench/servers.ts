/**
 * The two registries under test, each on loopback with a fresh data directory: Berth (the built
 * CLI, logged in with its bootstrap admin key) and the reference, CNCF distribution as Debian
 * packages it (`docker-registry`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBerth, freePort } from '../test/e2e/helpers/berth-process.js';
import { adminCredentials, type Credentials } from '../test/e2e/helpers/ecr-client.js';
import type { ServerProbe } from './server-probe.js';

export interface Server {
  name: string;
  url: string;
  host: string;
  pid: number;
  /** Headers every request carries (Berth needs a login). */
  headers: Record<string, string>;
  /** `user:password` for skopeo, if any. */
  creds?: string;
  /** The bootstrap admin's access key (Berth only). */
  admin?: Credentials;
  /** Berth's Prometheus endpoint, when started with one (BENCH_SEAL_SLOTS=1: bench/memory-crowds.ts). */
  metricsUrl?: string;
  /** Set when the server was started through the listings bench's probe (server-probe.ts). */
  probe?: ServerProbe;
  /** Berth's data directory, or the reference's config file (for offline garbage collection). */
  dataDir: string;
  configPath?: string;
  /** Stops the process and keeps its data. */
  halt(): Promise<void>;
  /** Stops the process and removes its data. */
  stop(): Promise<void>;
}

/**
 * `joins`: the data directory of a node already running on the same database, whose admin key
 * this one uses.
 */
export async function startBerthServer(
  workDir: string,
  opts: { env?: Record<string, string>; name?: string; joins?: string; cli?: string; metrics?: boolean } = {},
): Promise<Server> {
  const dataDir = await mkdtemp(join(workDir, 'berth-'));
  if (opts.joins !== undefined) await copyFile(join(opts.joins, 'admin-credentials'), join(dataDir, 'admin-credentials'));
  // A metrics port adds a thread and a request observer: only when asked for.
  const metricsPort = opts.metrics ? await freePort() : undefined;
  const env: Record<string, string> = {
    ...opts.env,
    ...(metricsPort !== undefined && { BERTH_METRICS_PORT: String(metricsPort), BERTH_METRICS_HOST: '127.0.0.1' }),
  };
  const b = await startBerth({ dataDir, env, ...(opts.cli !== undefined && { cli: opts.cli }) });
  const password = Buffer.from(b.authorization.replace(/^Basic /, ''), 'base64')
    .toString()
    .slice(4);
  return {
    name: opts.name ?? 'berth',
    url: b.url,
    ...(metricsPort !== undefined && { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }),
    host: b.host,
    pid: b.child.pid!,
    headers: { Authorization: b.authorization },
    creds: `AWS:${password}`,
    admin: adminCredentials(b),
    dataDir,
    halt: () => b.stop(),
    async stop() {
      await b.cleanup();
    },
  };
}

/** `storage` is the reference's storage section in YAML flow style; its own directory by default. */
export async function startReferenceServer(workDir: string, storage?: string): Promise<Server> {
  const root = await mkdtemp(join(workDir, 'reference-'));
  const port = await freePort();
  const config = join(root, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      `storage: ${storage ?? `{filesystem: {rootdirectory: ${join(root, 'data')}}, delete: {enabled: true}}`}`,
      `http: {addr: "127.0.0.1:${port}"}`,
    ].join('\n'),
  );
  // The reference's AWS SDK must not pick up this shell's AWS settings (a CA bundle, a profile).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) break;
    } catch {
      // not yet listening
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  async function halt(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  return {
    name: 'reference',
    url,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    headers: {},
    dataDir: join(root, 'data'),
    configPath: config,
    halt,
    async stop() {
      await halt();
      await rm(root, { recursive: true, force: true });
    },
  };
}
