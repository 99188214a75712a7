/**
 * Starts a real Berth server as a child process (the built CLI, exactly as a user runs it) on a
 * free loopback port with its own data directory, for end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ecrClient } from './ecr-client.js';
import { forgetLogin, rememberLogin } from './logins.js';

/**
 * Tests' upstreams, API destinations and OIDC issuers listen on loopback, which Berth refuses to
 * reach by default: allowed here, as an operator would. Tests of the refusal pass their own value
 * (an empty string leaves the default).
 */
export const LOCAL_OUTBOUND = { BERTH_OUTBOUND_ALLOW: '127.0.0.0/8,::1' };

const here = fileURLToPath(new URL('.', import.meta.url));
/** dist/test/e2e/helpers → repository root. */
export const repoRoot = resolve(here, '../../../..');
export const cliPath = join(repoRoot, 'dist/src/cli/main.js');

export interface BerthProcess {
  readonly url: string;
  /** host:port, as skopeo wants it. */
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The region the server serves (BERTH_REGION), which AWS clients must sign for. */
  readonly region: string;
  /** The CA file the server's certificate chains to, when it serves HTTPS. */
  readonly ca?: string;
  readonly child: ChildProcess;
  /** `Basic <base64 AWS:token>` for /v2, from GetAuthorizationToken with the admin key. */
  readonly authorization: string;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
  /** Stops (if running) and removes the data directory unless keepData. */
  cleanup(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartOptions {
  /** Reuse an existing data directory (e.g. after a crash). */
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  args?: string[];
  /** Serving HTTPS (args name the pair): the CA file clients trust; the url is https://. */
  ca?: string;
  /** Bounds a start that hangs (not a start that is slow on a busy machine). */
  startTimeoutMs?: number;
  /** Another build's CLI (a benchmark's baseline); this build's by default. */
  cli?: string;
}

/** Only ends a hang: a loaded 2-core machine may take many seconds to start a server. */
const START_TIMEOUT_MS = 120_000;
/** Attempts on a fresh free port when another process took the chosen one before Berth bound it. */
const PORT_ATTEMPTS = 5;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Every directory `tempDir` made in this test file's process, removed as the process exits. */
const madeDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of madeDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A server a test left running may still write there; a left directory must not fail the file.
    }
  }
});

/**
 * A fresh directory under the system's temp dir, gone when the test file's process exits: most
 * tests never removed theirs, and a full run left ~50 directories (up to 86 MB each) behind.
 */
export async function tempDir(prefix = 'berth-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

/**
 * tempDir with only lowercase letters in its name: podman names an image it pulls from an OCI
 * layout after the layout's path, and a reference must be lowercase.
 */
export async function lowercaseTempDir(prefix: string): Promise<string> {
  const dir = join(tmpdir(), `${prefix}${randomBytes(8).toString('hex')}`);
  await mkdir(dir);
  madeDirs.add(dir);
  return dir;
}

export async function startBerth(opts: StartOptions = {}): Promise<BerthProcess> {
  const dataDir = opts.dataDir ?? (await tempDir());
  // freePort closes its probe before Berth binds, so a test server started beside this one may
  // take the port in between: then Berth exits with EADDRINUSE, and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(opts, dataDir, opts.port ?? (await freePort()));
    } catch (err) {
      if (!(err instanceof PortTaken) || opts.port !== undefined || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startOn(opts: StartOptions, dataDir: string, port: number): Promise<BerthProcess> {
  // BERTH_NODE_ARGS: flags for the server's Node (`--cpu-prof --cpu-prof-dir=...`, which NODE_OPTIONS refuses).
  const nodeArgs = process.env.BERTH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, opts.cli ?? cliPath, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, ...(opts.args ?? [])],
    {
      env: { ...process.env, BERTH_LOG_LEVEL: 'warn', ...LOCAL_OUTBOUND, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = `${opts.ca ? 'https' : 'http'}://127.0.0.1:${port}`;

  const startTimeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      const Failure = /EADDRINUSE/.test(out) ? PortTaken : Error;
      throw new Failure(`berth exited with ${child.exitCode} before listening:\n${out}`);
    }
    try {
      const status = opts.ca
        ? await httpsStatus(`${url}/v2/`, opts.ca)
        : await fetch(`${url}/v2/`).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          });
      if (status === 200 || status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not start within ${startTimeoutMs / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const region = opts.env?.BERTH_REGION ?? 'us-east-1';
  // The answers may have come from another test's server on a port this one failed to bind (a
  // server that may stop a moment later: a CI run lost a file's hook to ECONNREFUSED so). Only a
  // listener that is this child's own socket counts; otherwise try another port.
  const notOurs = async () => {
    if (child.exitCode !== null || !(await listensOn(child.pid!, port))) {
      child.kill('SIGKILL');
      await exited;
      return new PortTaken(`berth (exit ${child.exitCode}) does not hold ${port}, another server answered there:\n${out}`);
    }
    return undefined;
  };
  let authorization: string;
  try {
    authorization = await login(url, dataDir, region, opts.ca);
  } catch (err) {
    throw (await notOurs()) ?? err;
  }
  const taken = await notOurs();
  if (taken) throw taken;
  rememberLogin(url, authorization);

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      await exited;
    }
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    region,
    ...(opts.ca !== undefined && { ca: opts.ca }),
    authorization,
    child,
    output: () => out,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async cleanup(o = {}) {
      await signal('SIGTERM');
      forgetLogin(url);
      if (!o.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** True when one of `pid`'s open sockets is a TCP listener on `port`, any address (Linux /proc). */
async function listensOn(pid: number, port: number): Promise<boolean> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st ... inode (the 10th field); 0A is LISTEN
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hexPort) && f[3] === '0A') inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return false;
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

/** Logs in as `aws ecr get-login-password | docker login` would, with the admin key. */
async function login(url: string, dataDir: string, region: string, ca: string | undefined): Promise<string> {
  const out = await ecrClient({ url, dataDir, region, ...(ca !== undefined && { ca }) }).send(new GetAuthorizationTokenCommand({}));
  const token = out.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new Error('GetAuthorizationToken returned no token');
  return `Basic ${token}`;
}

/** fetch cannot be given a CA: the readiness probe of an HTTPS server goes through node:https. */
function httpsStatus(url: string, caFile: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = httpsRequest(url, { ca: readFileSync(caFile), agent: false }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}
