/**
 * podman and buildah (Debian's 4.3 and 1.28, both on containers/image) as a test's clients, with
 * nothing of the machine's: their own image store (vfs: plain copies, no overlayfs), run root,
 * tmp dir and events file under a temp directory (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF), a
 * registries.conf that marks the test registry as plain HTTP, and a permissive signature policy
 * in a private HOME. No container runs: pull, push, tag, save, manifest lists and commits only.
 *
 * A "client" is a directory used as XDG_RUNTIME_DIR: its containers/auth.json holds the logins.
 * REGISTRY_AUTH_FILE names the same file, because podman 4.3 reads one or the other depending on
 * the command (`podman manifest inspect` and `pull --all-tags` ignore REGISTRY_AUTH_FILE).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './berth-process.js';
import { CommandFailed, exitReason, mustFail } from './command-failed.js';
import { blobPath } from './oci-layout.js';

/** Why podman cannot run here, or undefined when it can. */
export function podmanUnavailable(): string | undefined {
  for (const bin of ['podman', 'buildah']) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.error) return `${bin} is not installed (scripts/install-test-deps.sh installs Debian's podman and buildah)`;
  }
  // Rootless podman needs subordinate id ranges and user namespaces; CI runs as root.
  if (process.getuid?.() !== 0) return 'podman runs as root here';
  return undefined;
}

export interface PodmanRun {
  /** The client (a directory from newClient()) whose logins are used; the default one otherwise. */
  client?: string;
  /** Given on stdin (`--password-stdin`). */
  input?: string;
  /** Added to the environment (the AWS CLI's, for a login piped from `aws`). */
  env?: NodeJS.ProcessEnv;
}

export interface Podman {
  /** The default client. */
  readonly client: string;
  /** The auth.json a client's logins are kept in. */
  authFile(client?: string): string;
  /** A fresh client with no logins. */
  newClient(): Promise<string>;
  /** Runs `podman <args>`; rejects with CommandFailed on a non-zero exit. */
  podman(args: string[], opts?: PodmanRun): Promise<{ stdout: string; stderr: string }>;
  /** Runs a `podman` that must fail and returns its stderr (fails the test if it succeeds). */
  podmanFails(args: string[], opts?: PodmanRun): Promise<string>;
  /** Runs `buildah <args>` on the same store. */
  buildah(args: string[], opts?: PodmanRun): Promise<{ stdout: string; stderr: string }>;
  /**
   * Pulls an OCI layout's image into the store and names it `name`. podman names what it pulls
   * from a layout after the layout's path, which must therefore be lowercase (lowercaseTempDir).
   */
  load(layout: string, tag: string, name: string): Promise<void>;
  /** `podman save --format oci-dir --uncompressed`: the config's bytes and each layer's tar, as podman holds them. */
  saved(ref: string): Promise<{ config: Buffer; layers: Buffer[] }>;
  /** Runs `sh -c <script>` with the same environment (a pipe, as a user types it). */
  shell(script: string, opts?: PodmanRun): Promise<{ stdout: string; stderr: string }>;
  /** Removes the store and every client (no daemon to stop). */
  cleanup(): Promise<void>;
}

/** `registry` (host:port) is the one registry these clients reach over plain HTTP. */
export async function createPodman(registry: string): Promise<Podman> {
  const dir = await tempDir('berth-podman-');
  const home = join(dir, 'home');
  const conf = (name: string) => join(dir, name);
  await mkdir(join(home, '.config', 'containers'), { recursive: true });
  await mkdir(join(dir, 'tmp'));
  await writeFile(
    conf('storage.conf'),
    ['[storage]', 'driver = "vfs"', `graphroot = ${JSON.stringify(join(dir, 'root'))}`, `runroot = ${JSON.stringify(join(dir, 'runroot'))}`, ''].join('\n'),
  );
  // tmp_dir: root's podman would otherwise keep its run state in /run/libpod.
  await writeFile(
    conf('containers.conf'),
    [
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = ${JSON.stringify(join(dir, 'events.log'))}`,
      `tmp_dir = ${JSON.stringify(join(dir, 'libpod'))}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    conf('registries.conf'),
    ['unqualified-search-registries = []', '[[registry]]', `location = ${JSON.stringify(registry)}`, 'insecure = true', ''].join('\n'),
  );
  // containers/image takes $HOME/.config/containers/policy.json before /etc/containers/policy.json.
  await writeFile(join(home, '.config', 'containers', 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

  let clients = 0;
  let saves = 0;
  const newClient = async () => {
    const client = join(dir, `client-${++clients}`);
    await mkdir(join(client, 'containers'), { recursive: true });
    // podman refuses a REGISTRY_AUTH_FILE that does not exist.
    await writeFile(join(client, 'containers', 'auth.json'), '{"auths":{}}');
    return client;
  };
  const client = await newClient();
  const authFile = (c = client) => join(c, 'containers', 'auth.json');
  const envFor = (opts: PodmanRun): NodeJS.ProcessEnv => ({
    ...opts.env,
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: join(dir, 'tmp'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_RUNTIME_DIR: opts.client ?? client,
    REGISTRY_AUTH_FILE: authFile(opts.client),
    CONTAINERS_STORAGE_CONF: conf('storage.conf'),
    CONTAINERS_CONF: conf('containers.conf'),
    CONTAINERS_REGISTRIES_CONF: conf('registries.conf'),
  });
  const exec = (file: string, args: string[], opts: PodmanRun) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(file, args, { env: envFor(opts), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) reject(new CommandFailed(`${file} ${args.join(' ')}`, stderr || exitReason(err)));
        else resolve({ stdout, stderr });
      });
      // A command that does not read its input may exit (or close its stdin) before this write:
      // the EPIPE on stdin was then an uncaught error that failed whichever test was running while
      // the command itself went on (seen with buildah push under load). The exit status above is
      // what tells whether the command did its job, input or not.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input ?? '');
    });
  const podman = (args: string[], opts: PodmanRun = {}) => exec('podman', args, opts);

  return {
    client,
    authFile,
    newClient,
    podman,
    podmanFails: (args, opts) => mustFail(`podman ${args.join(' ')}`, () => podman(args, opts)),
    buildah: (args, opts = {}) => exec('buildah', args, opts),
    async load(layout, tag, name) {
      const { stdout } = await podman(['pull', '-q', `oci:${layout}:${tag}`]);
      await podman(['tag', stdout.trim(), name]);
    },
    async saved(ref) {
      const out = join(dir, `saved-${++saves}`);
      await podman(['save', '--format', 'oci-dir', '--uncompressed', '-o', out, ref]);
      const blob = (d: string) => readFile(blobPath(out, d));
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      const m = JSON.parse((await blob(index.manifests[0]!.digest)).toString()) as { config: { digest: string }; layers: { digest: string }[] };
      return { config: await blob(m.config.digest), layers: await Promise.all(m.layers.map((l) => blob(l.digest))) };
    },
    shell: (script, opts = {}) => exec('sh', ['-c', script], opts),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
