/**
 * The reference registry (Debian's `docker-registry`, CNCF distribution) on loopback as a
 * pull-through cache's upstream, optionally behind htpasswd (Basic) auth with a bcrypt entry made
 * by python3's crypt module (as a fresh Debian has it). Stops and starts again on the same port
 * and data, for "upstream down" tests.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './berth-process.js';

const run = promisify(execFile);

export interface UpstreamRegistry {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** `user:password` when it requires Basic auth. */
  readonly creds?: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startUpstreamRegistry(opts: { user?: string; password?: string } = {}): Promise<UpstreamRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'berth-upstream-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: {level: error, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${join(root, 'data')}}, delete: {enabled: true}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
  ];
  if (opts.user !== undefined && opts.password !== undefined) {
    const { stdout } = await run('/usr/bin/python3', [
      '-c',
      'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))',
      opts.password,
    ]);
    await writeFile(join(root, 'htpasswd'), `${opts.user}:${stdout.trim()}\n`);
    lines.push(`auth: {htpasswd: {realm: upstream, path: ${join(root, 'htpasswd')}}}`);
  }
  const config = join(root, 'config.yml');
  await writeFile(config, lines.join('\n'));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  async function start(): Promise<void> {
    const c = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'], env });
    child = c;
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const s = (await fetch(`${url}/v2/`)).status;
        if (s === 200 || s === 401) return;
      } catch {
        // not yet listening
      }
      if (c.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function stop(): Promise<void> {
    const c = child;
    child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  }
  await start();
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    ...(opts.user !== undefined && { creds: `${opts.user}:${opts.password}` }),
    start,
    stop,
    async cleanup() {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
