/**
 * `berth demo-image DIR` builds, without any container engine, an image and a two-platform index
 * that skopeo pushes to Berth (both tags, `--all` for the index) and pulls back unchanged.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { readLayoutRef } from './helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);

describe('berth demo-image', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let dir: string;
  before(async () => {
    berth = await startBerth();
    skopeo = await createSkopeo();
    dir = join(await tempDir('berth-demo-'), 'demo');
  });
  after(async () => {
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  it('writes an OCI layout with latest (an image of 3 layers) and multi (an amd64 + arm64 index), the same on every run', async () => {
    const first = await run(process.execPath, [cliPath, 'demo-image', dir]);
    assert.match(first.stdout, /latest/);
    const latest = await readLayoutRef(dir, 'latest');
    const multi = await readLayoutRef(dir, 'multi');
    assert.equal(latest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(multi.mediaType, 'application/vnd.oci.image.index.v1+json');
    const manifest = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', latest.digest.slice(7)), 'utf8')) as { layers: unknown[] };
    assert.equal(manifest.layers.length, 3);
    const index = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', multi.digest.slice(7)), 'utf8')) as {
      manifests: Array<{ platform: { architecture: string } }>;
    };
    assert.deepEqual(
      index.manifests.map((m) => m.platform.architecture),
      ['amd64', 'arm64'],
    );

    await run(process.execPath, [cliPath, 'demo-image', dir]);
    assert.equal((await readLayoutRef(dir, 'latest')).digest, latest.digest);
    assert.equal((await readLayoutRef(dir, 'multi')).digest, multi.digest);
  });

  it('is pushed by skopeo (both tags) and pulled back unchanged', async () => {
    const latest = await readLayoutRef(dir, 'latest');
    const multi = await readLayoutRef(dir, 'multi');
    await skopeo.copy(`oci:${dir}:latest`, `docker://${berth.host}/team/web:v1`);
    await skopeo.copy(`oci:${dir}:multi`, `docker://${berth.host}/team/web:multi`, ['--all']);
    assert.deepEqual((await skopeo.listTags(`docker://${berth.host}/team/web`)).sort(), ['multi', 'v1']);

    const out = join(await tempDir('berth-demo-out-'), 'out');
    await skopeo.copy(`docker://${berth.host}/team/web:v1`, `oci:${out}:v1`);
    await skopeo.copy(`docker://${berth.host}/team/web:multi`, `oci:${out}:multi`, ['--all']);
    assert.equal((await readLayoutRef(out, 'v1')).digest, latest.digest);
    assert.equal((await readLayoutRef(out, 'multi')).digest, multi.digest);
    // The index's arm64 image came along and is pullable by digest.
    const index = JSON.parse((await skopeo.inspectRaw(`docker://${berth.host}/team/web:multi`)).toString()) as { manifests: Array<{ digest: string }> };
    for (const m of index.manifests) assert.ok((await skopeo.inspectRaw(`docker://${berth.host}/team/web@${m.digest}`)).length > 0);
  });

  it('refuses a missing DIR argument with usage and exit 2', async () => {
    await assert.rejects(run(process.execPath, [cliPath, 'demo-image']), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /needs DIR/);
      assert.match(e.stderr, /usage: berth demo-image/);
      return true;
    });
  });
});
