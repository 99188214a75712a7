/**
 * The README's tour, run as written: its first `sh` block is extracted from README.md and run by
 * bash in an empty folder (as if it were a fresh clone, with dist/ linked in instead of `npm ci`),
 * against the real aws CLI and skopeo. Only the port is changed (a free one instead of 5000) and
 * the user's client configuration is kept out (a private HOME and XDG_RUNTIME_DIR). If the tour
 * rots, this fails naming the line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, repoRoot, tempDir } from './helpers/berth-process.js';
import { readLayoutRef } from './helpers/oci-layout.js';

function tourBlock(readme: string): string {
  const section = readme.slice(readme.indexOf('## A short tour'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no sh block in "A short tour"');
  return m[1]!;
}

interface TourRun {
  code: number | null;
  out: string;
  log: string;
  work: string;
  port: number;
}

/** Attempts when the tour's server could not bind: freePort's probe closes before Berth binds. */
const PORT_ATTEMPTS = 3;

describe('the README tour', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  async function runTour(block: string): Promise<TourRun> {
    const port = await freePort();
    const work = await tempDir('berth-tour-');
    const home = join(work, '.home');
    await mkdir(home);
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    // The clone: dist/ as `npm ci` would have built it (its imports resolve from the real path).
    await symlink(join(repoRoot, 'dist'), join(work, 'dist'));

    const lines = block
      .trimEnd()
      .split('\n')
      // `npm ci` is what the test run already did (install and build).
      .map((l) => (/^npm ci\b/.test(l) ? `: ${l}` : l.replaceAll('localhost:5000', `localhost:${port}`)))
      // A server that exits before its ready line (its port taken in the meantime by another
      // test) would leave the tour's wait looping until the test's timeout: end the tour instead.
      .map((l) => (/^until grep .*ready on/.test(l) ? l.replace('do sleep 1;', 'do kill -0 $! || exit 1; sleep 1;') : l));
    // Echo each line before running it (set -x), so a failure names its line.
    const script = ['shopt -s expand_aliases', 'set -euo pipefail', 'set -x', ...lines].join('\n') + '\n';
    await writeFile(join(work, '.tour.sh'), script);

    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: home, BERTH_PORT: String(port), LANG: 'C.UTF-8' };
    const child = spawn('bash', ['.tour.sh'], { cwd: work, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    // The tour's server runs in the script's process group; whatever happens, it is stopped.
    cleanups.unshift(async () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    const log = await readFile(join(work, 'berth.log'), 'utf8').catch(() => '(no berth.log)');
    return { code, out, log, work, port };
  }

  it('runs line by line on a fresh folder: server ready, demo image pushed (both tags) and pulled back', { timeout: 600_000 }, async () => {
    const block = tourBlock(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    assert.match(block, /^npm ci/m, 'the tour starts from a fresh clone');
    let run = await runTour(block);
    // Another test took the port between the probe and the bind: the tour itself is not at fault.
    for (let attempt = 1; run.code !== 0 && run.log.includes('EADDRINUSE') && attempt < PORT_ATTEMPTS; attempt++) run = await runTour(block);
    const { code, out, log, work, port } = run;
    assert.equal(code, 0, `the tour failed:\n${out}\n--- berth.log ---\n${log}`);

    // The ready line names the URL and the credentials file the tour then uses.
    assert.match(out, new RegExp(`ready on http://localhost:${port}`));
    assert.ok(out.includes(join(work, 'data', 'admin-credentials')), 'the ready line names the credentials file');
    // What was pushed came back: the pulled image is the demo image, byte for byte the same manifest.
    const pushed = await readLayoutRef(join(work, 'demo-image'), 'latest');
    const pulled = await readLayoutRef(join(work, 'out'), 'v1');
    assert.equal(pulled.digest, pushed.digest);
    // describe-images lists both tags.
    assert.match(out, /"v1"/);
    assert.match(out, /"multi"/);
    assert.match(out, /AmazonEC2ContainerRegistryPowerUser|"AccessKeyId"/);
  });
});
