/**
 * Runs the real skopeo binary against a test registry, sandboxed: a permissive signature policy,
 * an empty auth file and private HOME/XDG/TMPDIR directories, so a test never reads or writes the
 * user's container configuration.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './berth-process.js';
import { authFileContent } from './logins.js';

export interface Skopeo {
  /** Runs `skopeo <global flags> <args>`; rejects with skopeo's stderr on a non-zero exit. */
  run(args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** `skopeo copy` with TLS verification off on both sides (Berth serves plain HTTP). */
  copy(src: string, dest: string, extra?: string[]): Promise<void>;
  /** `skopeo inspect --raw`: the manifest bytes exactly as served. */
  inspectRaw(ref: string): Promise<Buffer>;
  listTags(ref: string): Promise<string[]>;
  delete(ref: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** `env` adds to skopeo's sandboxed environment (e.g. HTTP_PROXY). */
export async function createSkopeo(opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Skopeo> {
  const home = await tempDir('berth-skopeo-');
  const policy = join(home, 'policy.json');
  const authfile = join(home, 'auth.json');
  const tmp = join(home, 'tmp');
  await mkdir(tmp);
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(authfile, '{"auths":{}}');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: tmp,
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    REGISTRY_AUTH_FILE: authfile,
    ...opts.env,
  };

  const run = async (args: string[]) => {
    // Present whatever logins the tests hold, as `skopeo login` would have stored them.
    await writeFile(authfile, authFileContent());
    return runSkopeo(args);
  };
  const runSkopeo = (args: string[]) =>
    new Promise<{ stdout: string; stderr: string; raw: Buffer }>((resolve, reject) => {
      execFile('skopeo', ['--policy', policy, ...args], { env, encoding: 'buffer', maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) {
          const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'skopeo is not installed (run scripts/install-test-deps.sh)' : stderr.toString();
          reject(new Error(`skopeo ${args.join(' ')} failed: ${why}`));
        } else resolve({ stdout: stdout.toString(), stderr: stderr.toString(), raw: stdout });
      });
    });

  return {
    run,
    async copy(src, dest, extra = []) {
      await run(['copy', '-q', '--authfile', authfile, '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest]);
    },
    async inspectRaw(ref) {
      return (await run(['inspect', '--raw', '--authfile', authfile, '--tls-verify=false', ref])).raw;
    },
    async listTags(ref) {
      const { stdout } = await run(['list-tags', '--authfile', authfile, '--tls-verify=false', ref]);
      return (JSON.parse(stdout) as { Tags: string[] | null }).Tags ?? [];
    },
    async delete(ref) {
      await run(['delete', '--authfile', authfile, '--tls-verify=false', ref]);
    },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
