/**
 * A private containerd daemon for one test file, driven with the real `ctr` over its own socket:
 * its own root, state and socket under a temp directory, the CRI plugin off (no kubelet here),
 * and the `native` snapshotter for unpacking (plain copies: no overlayfs needed). Nothing is
 * shared with a containerd the machine may run for itself.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './berth-process.js';
import { CommandFailed, exitReason, mustFail } from './command-failed.js';
import { waitFor } from './wait-for.js';

/** Why containerd cannot run here, or undefined when it can. */
export function containerdUnavailable(): string | undefined {
  for (const bin of ['containerd', 'ctr']) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.error) return `${bin} is not installed (scripts/install-test-deps.sh installs Debian's containerd)`;
  }
  // Unpacking bind-mounts snapshots and sets file owners: the daemon needs root (as on a node).
  if (process.getuid?.() !== 0) return 'containerd needs root';
  return undefined;
}

export interface Containerd {
  /** The daemon's socket (`ctr --address`). */
  readonly address: string;
  /** Runs `ctr --address <socket> <args>`; rejects with CommandFailed on a non-zero exit. */
  ctr(args: string[]): Promise<{ stdout: Buffer; stderr: string }>;
  /** Runs a `ctr` that must fail and returns its stderr (fails the test if it succeeds). */
  ctrFails(args: string[]): Promise<string>;
  /** The bytes containerd's content store holds for `digest` (`ctr content get`). */
  content(digest: string): Promise<Buffer>;
  /** The digests in the content store (`ctr content ls -q`). */
  contentDigests(): Promise<Set<string>>;
  /** The image names containerd knows (`ctr images ls -q`). */
  images(): Promise<string[]>;
  /** SIGTERM, wait, and remove its directory. */
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<Containerd> {
  const dir = await tempDir('berth-ctrd-');
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  const log = join(dir, 'containerd.log');
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(join(dir, 'root'))}`,
      `state = ${JSON.stringify(join(dir, 'state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${JSON.stringify(join(dir, 'opt'))}`,
      '',
    ].join('\n'),
  );
  const logFd = openSync(log, 'a');
  const daemon: ChildProcess = spawn('containerd', ['--config', config, '--log-level', 'info'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise<void>((res) => daemon.once('exit', () => res()));
  const daemonLog = () => readFile(log, 'utf8').catch(() => '');

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, CONTAINERD_SNAPSHOTTER: 'native', CONTAINERD_NAMESPACE: 'berth-test' };
  const ctr = (args: string[]) =>
    new Promise<{ stdout: Buffer; stderr: string }>((resolve, reject) => {
      execFile('ctr', ['--address', address, ...args], { env, encoding: 'buffer', maxBuffer: 256 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err)
          reject(new CommandFailed(shown(args), stderr.toString() || exitReason(err))); // err.message repeats the password
        else resolve({ stdout, stderr: stderr.toString() });
      });
    });

  try {
    await waitFor('containerd to answer on its socket', async () => {
      if (daemon.exitCode !== null) throw new Error(`containerd exited with ${daemon.exitCode}:\n${await daemonLog()}`);
      return ctr(['version']).then(
        () => true,
        () => false,
      );
    });
  } catch (e) {
    daemon.kill('SIGKILL');
    await exited;
    throw e;
  }

  return {
    address,
    ctr,
    ctrFails: (args) => mustFail(shown(args), () => ctr(args)),
    content: async (digest) => (await ctr(['content', 'get', digest])).stdout,
    contentDigests: async () => new Set(lines((await ctr(['content', 'ls', '-q'])).stdout)),
    images: async () => lines((await ctr(['images', 'ls', '-q'])).stdout),
    async stop() {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The command line with the password of `--user AWS:<token>` left out: a test's failure must not print it. */
const shown = (args: string[]) => `ctr ${args.map((a, i) => (args[i - 1] === '--user' ? a.replace(/:.*/, ':<password>') : a)).join(' ')}`;

const lines = (out: Buffer) => out.toString().split('\n').filter(Boolean);
