/**
 * A private Docker daemon for one test file, driven with the real `docker` CLI over its own
 * socket: its own data root, exec root and socket under a temp directory, the `vfs` storage
 * driver (plain copies: no overlayfs), no bridge and no iptables (no container runs: pull, push,
 * tag, save and load only). It runs on a private containerd (./containerd.ts), because dockerd
 * would otherwise attach to the machine's own containerd when its socket exists (as it does on a
 * systemd host where the package started one). Every `docker` run gets DOCKER_HOST and a
 * DOCKER_CONFIG of its own: the machine's daemon and the user's logins are never touched.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './berth-process.js';
import { CommandFailed, exitReason, mustFail } from './command-failed.js';
import { startContainerd, type Containerd } from './containerd.js';
import { waitFor } from './wait-for.js';

/** Why dockerd cannot run here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  for (const bin of ['dockerd', 'docker', 'containerd', 'ctr']) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.error) return `${bin} is not installed (scripts/install-test-deps.sh installs Debian's docker.io and containerd)`;
  }
  if (process.getuid?.() !== 0) return 'dockerd needs root';
  return undefined;
}

export interface DockerRun {
  /** A DOCKER_CONFIG directory (its config.json holds the logins); the daemon's own by default. */
  config?: string;
  /** Given on stdin (`--password-stdin`, `docker load`). */
  input?: string | Buffer;
  /** Added to the environment (the AWS CLI's, for a login piped from `aws`). */
  env?: NodeJS.ProcessEnv;
}

export interface Docker {
  /** unix://<socket> of the private daemon. */
  readonly host: string;
  /** The default DOCKER_CONFIG directory. */
  readonly config: string;
  /** A fresh, empty DOCKER_CONFIG directory: a client with no logins. */
  newConfig(): Promise<string>;
  /** Runs `docker <args>`; rejects with CommandFailed on a non-zero exit. */
  docker(args: string[], opts?: DockerRun): Promise<{ stdout: string; stderr: string }>;
  /** Runs a `docker` that must fail and returns its stderr (fails the test if it succeeds). */
  dockerFails(args: string[], opts?: DockerRun): Promise<string>;
  /** Runs `sh -c <script>` with the daemon's DOCKER_HOST and DOCKER_CONFIG (a pipe, as a user types it). */
  shell(script: string, opts?: DockerRun): Promise<{ stdout: string; stderr: string }>;
  /** SIGTERM dockerd and its containerd, wait, and remove the directory. */
  stop(): Promise<void>;
}

export async function startDocker(): Promise<Docker> {
  const dir = await tempDir('berth-dockerd-');
  const host = `unix://${join(dir, 'docker.sock')}`;
  const config = join(dir, 'config');
  await mkdir(config);
  const log = join(dir, 'dockerd.log');
  const ctrd: Containerd = await startContainerd();
  const logFd = openSync(log, 'a');
  const daemon: ChildProcess = spawn(
    'dockerd',
    [
      ...['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid'), '-H', host],
      ...['--containerd', ctrd.address, '--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver=vfs'],
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const exited = new Promise<void>((res) => daemon.once('exit', () => res()));
  const daemonLog = () => readFile(log, 'utf8').catch(() => '');

  let configs = 0;
  const envFor = (opts: DockerRun): NodeJS.ProcessEnv => ({
    ...opts.env,
    PATH: process.env.PATH,
    HOME: dir,
    DOCKER_HOST: host,
    DOCKER_CONFIG: opts.config ?? config,
  });
  const exec = (file: string, args: string[], shown: string, opts: DockerRun) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(file, args, { env: envFor(opts), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) reject(new CommandFailed(shown, stderr || exitReason(err)));
        else resolve({ stdout, stderr });
      });
      // A command that does not read its input may exit (or close its stdin) before this write:
      // the EPIPE on stdin was then an uncaught error that failed whichever test was running while
      // the command itself went on (seen in the podman helper: buildah push, under load). The exit status above is
      // what tells whether the command did its job, input or not.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input ?? '');
    });
  const docker = (args: string[], opts: DockerRun = {}) => exec('docker', args, `docker ${args.join(' ')}`, opts);

  try {
    await waitFor('dockerd to answer on its socket', async () => {
      if (daemon.exitCode !== null) throw new Error(`dockerd exited with ${daemon.exitCode}:\n${await daemonLog()}`);
      return docker(['version']).then(
        () => true,
        () => false,
      );
    });
  } catch (e) {
    daemon.kill('SIGKILL');
    await exited;
    await ctrd.stop();
    throw e;
  }

  return {
    host,
    config,
    async newConfig() {
      const fresh = join(dir, `config-${++configs}`);
      await mkdir(fresh);
      return fresh;
    },
    docker,
    dockerFails: (args, opts) => mustFail(`docker ${args.join(' ')}`, () => docker(args, opts)),
    shell: (script, opts = {}) => exec('sh', ['-c', script], `sh -c ${script}`, opts),
    async stop() {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGTERM');
        await exited;
      }
      await ctrd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
