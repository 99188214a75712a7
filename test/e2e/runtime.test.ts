/**
 * The runtime: tests (and Berth) run on the Node.js that package.json asks for, the one `npm ci`
 * installs beside Berth when the machine's is older; the berth executable run by an old Node
 * re-runs itself under that one or says what it needs; a plain start loads no AWS SDK.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { cliPath, freePort, repoRoot, startBerth, tempDir } from './helpers/berth-process.js';
import { waitFor } from './helpers/wait-for.js';

interface PackageJson {
  version: string;
  engines: { node: string };
  optionalDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const bundled = join(repoRoot, 'node_modules', '.bin', 'node');

/** [major, minor, patch] of "v22.15.0", "22.15.0" or ">=22.15.0". */
function parts(v: string): number[] {
  return v
    .replace(/^[^0-9]*/, '')
    .split('.')
    .map(Number);
}
function atLeast(v: string, min: string): boolean {
  const [a, b] = [parts(v), parts(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** A `node` on PATH, other than node_modules/.bin's, that is older than Berth needs: what a fresh machine has. */
function oldSystemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (dir.includes('node_modules') || !existsSync(candidate)) continue;
    const r = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0 && !atLeast(r.stdout.trim(), pkg.engines.node)) return candidate;
  }
  return undefined;
}

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(file, args, (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

describe('runtime', () => {
  it("the tests run on the Node.js package.json asks for: npm ci's own when it installed one", () => {
    assert.match(pkg.engines.node, /^>=\d+\.\d+\.\d+$/);
    assert.ok(atLeast(process.versions.node, pkg.engines.node), `${process.version} does not satisfy ${pkg.engines.node}`);
    assert.ok(parts(process.version)[0]! >= 22 && parts(process.version)[0]! % 2 === 0, `${process.version} is not an LTS line`);
    if (existsSync(bundled)) {
      assert.equal(realpathSync(process.execPath), realpathSync(bundled));
      assert.equal(process.versions.node, pkg.optionalDependencies[`node-${process.platform}-${process.arch}`]);
    }
  });

  const old = oldSystemNode();
  const noOld = old === undefined ? `no Node.js older than ${pkg.engines.node} on PATH` : false;

  it('berth run by an old Node re-runs itself under the installed runtime', { skip: noOld || !existsSync(bundled) }, async () => {
    const r = await run(old!, [cliPath, '--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `berth ${pkg.version} (Node.js ${process.version})\n`);

    // A server started that way is stopped by a SIGTERM to the process that was started.
    const [dataDir, port] = [await tempDir(), await freePort()];
    const child = spawn(old!, [cliPath, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    await waitFor('the ready line', () => out.includes(`ready on http://127.0.0.1:${port}`));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v2/`));
  });

  it('berth run by an old Node without the installed runtime says which Node it needs', { skip: noOld }, async () => {
    // The executable alone, as if copied where no npm ci ran.
    const dir = join(await tempDir(), 'dist', 'src', 'cli');
    mkdirSync(dir, { recursive: true });
    copyFileSync(cliPath, join(dir, 'main.js'));
    const r = await run(old!, [join(dir, 'main.js'), '--version']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^berth: Node\.js v\d+\.\d+\.\d+ is too old: Berth needs Node\.js 22\.15 or later/);
    assert.match(r.stderr, /Run `npm ci` in /);
  });

  describe('what a start loads', () => {
    const recorder = pathToFileURL(join(repoRoot, 'dist/test/e2e/helpers/record-modules.js')).href;
    /** The CommonJS modules a server loaded in a start, a login and a stop. */
    async function modulesLoadedBy(env: Record<string, string>): Promise<string[]> {
      const log = join(await tempDir(), 'modules.log');
      const berth = await startBerth({ env: { ...env, NODE_OPTIONS: `--import=${recorder}`, BERTH_TEST_MODULE_LOG: log } });
      try {
        await berth.stop();
        return readFileSync(log, 'utf8').split('\n').filter(Boolean);
      } finally {
        await berth.cleanup();
      }
    }
    const sdk = (modules: string[]) => modules.filter((m) => m.includes('/node_modules/@aws-sdk/'));

    it('a plain start (local disk, Berth KMS) loads no AWS SDK', async () => {
      const modules = await modulesLoadedBy({});
      assert.ok(
        modules.some((m) => m.includes('/node_modules/better-sqlite3/')),
        'the recorder saw a CommonJS dependency load',
      );
      assert.deepEqual(sdk(modules), []);
    });

    it('kmsProvider aws loads the KMS client', async () => {
      // Nothing listens on port 9: the start does not call the KMS.
      const modules = await modulesLoadedBy({ BERTH_KMS_PROVIDER: 'aws', BERTH_KMS_ENDPOINT: 'http://127.0.0.1:9' });
      assert.ok(
        sdk(modules).some((m) => m.includes('/node_modules/@aws-sdk/client-kms/')),
        'client-kms loaded',
      );
      assert.ok(!sdk(modules).some((m) => m.includes('/node_modules/@aws-sdk/client-s3/')), 'client-s3 not loaded');
    });
  });
});
