/**
 * A private containerd daemon for one test file, driven with the real `ctr` over its own socket:
 * its own root, state and socket under a temp directory, and the `native` snapshotter for
 * unpacking (plain copies: no overlayfs needed). Nothing is shared with a containerd the machine
 * may run for itself. The CRI plugin (what a kubelet pulls through) is off unless asked for; on,
 * it serves only images here: no pod runs, so it has no CNI network and says so in its log.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  /** The daemon's socket (`ctr --address`, and the CRI's gRPC endpoint when it is on). */
  readonly address: string;
  /** The CRI plugin's `config_path`: one `<host>/hosts.toml` per registry (see `writeHostsToml`). */
  readonly hostsDir: string;
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

/** The CRI plugin's namespace: `ctr` looks there too when the plugin is on, to see what it pulled. */
const CRI_NAMESPACE = 'k8s.io';

export async function startContainerd(opts: { cri?: boolean } = {}): Promise<Containerd> {
  const dir = await tempDir('berth-ctrd-');
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  const log = join(dir, 'containerd.log');
  const hostsDir = join(dir, 'certs.d');
  await mkdir(hostsDir);
  const q = (path: string) => JSON.stringify(join(dir, path));
  const cri = [
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  snapshotter = "native"',
    // Its own (empty) CNI directories, never the machine's: the plugin logs that it has no network.
    '[plugins."io.containerd.grpc.v1.cri".cni]',
    `  bin_dir = ${q('cni/bin')}`,
    `  conf_dir = ${q('cni/net.d')}`,
    '[plugins."io.containerd.grpc.v1.cri".registry]',
    `  config_path = ${JSON.stringify(hostsDir)}`,
  ];
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${q('root')}`,
      `state = ${q('state')}`,
      ...(opts.cri ? cri : ['disabled_plugins = ["io.containerd.grpc.v1.cri"]']),
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${q('opt')}`,
      '',
    ].join('\n'),
  );
  const logFd = openSync(log, 'a');
  const daemon: ChildProcess = spawn('containerd', ['--config', config, '--log-level', 'info'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise<void>((res) => daemon.once('exit', () => res()));
  const daemonLog = () => readFile(log, 'utf8').catch(() => '');

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, CONTAINERD_SNAPSHOTTER: 'native', CONTAINERD_NAMESPACE: opts.cri ? CRI_NAMESPACE : 'berth-test' };
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
    hostsDir,
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

/**
 * Writes `<hostsDir>/<host>/hosts.toml` as a node's registry configuration does: `server` is the
 * registry's URL (http:// for a registry without TLS), and `ca` the CA file to trust, if any.
 */
export async function writeHostsToml(hostsDir: string, host: string, server: string, opts: { ca?: string; capabilities?: string[] } = {}): Promise<void> {
  const caps = opts.capabilities ?? ['pull', 'resolve', 'push'];
  const lines = [`server = "${server}"`, `[host."${server}"]`, `  capabilities = ${JSON.stringify(caps)}`];
  if (opts.ca) lines.push(`  ca = ${JSON.stringify(opts.ca)}`);
  await mkdir(join(hostsDir, host), { recursive: true });
  await writeFile(join(hostsDir, host, 'hosts.toml'), `${lines.join('\n')}\n`);
}
