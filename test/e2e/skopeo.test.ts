/**
 * skopeo against a running Berth: real images (multi-layer, multi-platform) copied in from OCI
 * layouts and back out, with every digest compared on both sides; cross-repository layer sharing
 * (one stored copy), docker→docker copies that mount across repositories, listing and deletes.
 */
import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { blobPath, buildImageLayout, buildIndexLayout, hashFile, MediaTypes, readLayoutRef, type BuiltImage, type BuiltIndex } from './helpers/oci-layout.js';
import { catalog, errorCode, getBlob, getManifest, listTags, sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const MiB = 1 << 20;

describe('skopeo against Berth', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let work: string;
  let src: string; // layout with app:v1 and a second image sharing its base layers
  let multiSrc: string; // layout with a two-platform index
  let app: BuiltImage;
  let other: BuiltImage;
  let multi: BuiltIndex;
  const docker = (ref: string) => `docker://${berth.host}/${ref}`;

  before(async () => {
    work = await tempDir('berth-skopeo-work-');
    src = join(work, 'src');
    multiSrc = join(work, 'multi-src');
    // One layer above 8 MiB so uploads take more than one read/write buffer on both sides.
    app = await buildImageLayout(src, { layers: 4, layerBytes: [9 * MiB, 64 * 1024, 1000, 300 * 1024], tag: 'app' });
    other = await buildImageLayout(src, { layers: 1, layerBytes: 20 * 1024, tag: 'other', reuseLayers: app.layers.slice(0, 2) });
    multi = await buildIndexLayout(multiSrc, {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layers: 2,
      layerBytes: [2 * MiB, 4096],
      tag: 'multi',
    });
    [berth, skopeo] = await Promise.all([startBerth(), createSkopeo()]);
  });

  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Every blob of `image` is served by `repo` with the digest it was pushed under. */
  async function assertImageServed(repo: string, image: BuiltImage): Promise<void> {
    const m = await getManifest(berth.url, repo, image.manifestDigest);
    assert.equal(m.status, 200, `GET ${repo} manifest ${image.manifestDigest}`);
    assert.deepEqual(m.body, image.manifest, 'manifest bytes are exactly those pushed');
    for (const digest of [image.configDigest, ...image.layers.map((l) => l.digest)]) {
      const b = await getBlob(berth.url, repo, digest);
      assert.equal(b.status, 200, `GET ${repo} blob ${digest}`);
      assert.equal(b.headers.get('docker-content-digest'), digest);
      assert.equal(sha256(b.body), digest, `blob ${digest} hashes to its digest`);
    }
  }

  /** The blob files of `image` in layout `dir` are byte-identical to those in `srcDir`. */
  async function assertSameBlobs(srcDir: string, dir: string, image: BuiltImage): Promise<void> {
    for (const digest of [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]) {
      const [a, b] = await Promise.all([hashFile(blobPath(srcDir, digest)), hashFile(blobPath(dir, digest))]);
      assert.equal(b, digest, `copied-out blob ${digest} hashes to its digest`);
      assert.equal(a, b);
      assert.equal((await stat(blobPath(dir, digest))).size, (await stat(blobPath(srcDir, digest))).size);
    }
  }

  it('copies a multi-layer image in and back out with every digest preserved', async () => {
    await skopeo.copy(`oci:${src}:app`, docker('team/app:v1'), ['--preserve-digests']);

    const res = await getManifest(berth.url, 'team/app', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), app.manifestDigest);
    assert.equal(res.headers.get('content-type'), MediaTypes.manifest);
    assert.deepEqual(res.body, app.manifest);
    const head = await getManifest(berth.url, 'team/app', 'v1', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), app.manifestDigest);
    assert.equal(head.headers.get('content-length'), String(app.manifestSize));

    const raw = await skopeo.inspectRaw(docker('team/app:v1'));
    assert.equal(sha256(raw), app.manifestDigest, 'skopeo inspect --raw sees the pushed manifest');
    await assertImageServed('team/app', app);

    const big = app.layers[0]!;
    const bigHead = await getBlob(berth.url, 'team/app', big.digest, 'HEAD');
    assert.equal(bigHead.status, 200);
    assert.equal(bigHead.headers.get('content-length'), String(big.size));

    const out = join(work, 'out-app');
    await skopeo.copy(docker('team/app:v1'), `oci:${out}:v1`, ['--preserve-digests']);
    assert.equal((await readLayoutRef(out, 'v1')).digest, app.manifestDigest);
    await assertSameBlobs(src, out, app);
  });

  it('copies a two-platform index with --all and keeps index and child digests', async () => {
    await skopeo.copy(`oci:${multiSrc}:multi`, docker('team/multi:v1'), ['--all', '--preserve-digests']);

    const res = await getManifest(berth.url, 'team/multi', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MediaTypes.index);
    assert.equal(res.headers.get('docker-content-digest'), multi.indexDigest);
    assert.deepEqual(res.body, multi.index);
    assert.equal(sha256(await skopeo.inspectRaw(docker('team/multi:v1'))), multi.indexDigest);

    const served = JSON.parse(res.body.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(
      served.manifests.map((m) => m.digest),
      multi.images.map((i) => i.manifestDigest),
    );
    for (const image of multi.images) {
      await assertImageServed('team/multi', image);
      const child = await skopeo.inspectRaw(docker(`team/multi@${image.manifestDigest}`));
      assert.equal(sha256(child), image.manifestDigest);
    }

    const out = join(work, 'out-multi');
    await skopeo.copy(docker('team/multi:v1'), `oci:${out}:v1`, ['--all', '--preserve-digests']);
    const ref = await readLayoutRef(out, 'v1');
    assert.equal(ref.digest, multi.indexDigest);
    assert.equal(ref.mediaType, MediaTypes.index);
    assert.equal(await hashFile(blobPath(out, multi.indexDigest)), multi.indexDigest);
    for (const image of multi.images) await assertSameBlobs(multiSrc, out, image);
  });

  it('lists repositories and tags after pushing an image that shares layers into another repository', async () => {
    await skopeo.copy(`oci:${src}:other`, docker('team/other:v1'), ['--preserve-digests']);
    await skopeo.copy(`oci:${src}:other`, docker('team/other:v2'), ['--preserve-digests']);
    await assertImageServed('team/other', other);

    const repos = await catalog(berth.url);
    for (const name of ['team/app', 'team/multi', 'team/other']) assert.ok(repos.includes(name), `catalog lists ${name}: ${repos}`);
    assert.deepEqual([...repos].sort(), repos, 'catalog is sorted');

    assert.deepEqual((await listTags(berth.url, 'team/other')).tags, ['v1', 'v2']);
    assert.deepEqual((await listTags(berth.url, 'team/app')).tags, ['v1']);
    assert.deepEqual(await skopeo.listTags(docker('team/other')), ['v1', 'v2']);
    assert.deepEqual(await skopeo.listTags(docker('team/multi')), ['v1']);

    // The two shared base layers were uploaded (or mounted) for two repositories: stored once.
    const files = await blobFiles(berth.dataDir);
    for (const layer of app.layers.slice(0, 2)) {
      assert.equal(files.get(hexOf(layer.digest)), 1, `layer ${layer.digest} is stored exactly once`);
    }
    for (const [hex, count] of files) assert.equal(count, 1, `blob ${hex} is stored once`);
  });

  it('copies docker→docker between two repositories of the same Berth', async () => {
    const before = await blobFiles(berth.dataDir);
    await skopeo.copy(docker('team/app:v1'), docker('mirror/app:v1'), ['--preserve-digests']);

    const res = await getManifest(berth.url, 'mirror/app', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), app.manifestDigest);
    await assertImageServed('mirror/app', app);

    const after = await blobFiles(berth.dataDir);
    for (const layer of app.layers) assert.equal(after.get(hexOf(layer.digest)), 1, `layer ${layer.digest} is stored once`);
    for (const hex of after.keys()) assert.ok(before.has(hex), `copying within the registry stored no new blob (${hex})`);
  });

  it('deletes by tag and by digest, repository by repository', async () => {
    // skopeo resolves a tag to its digest and deletes the manifest, so both tags of team/other go.
    await skopeo.delete(docker('team/other:v1'));
    const gone = await getManifest(berth.url, 'team/other', other.manifestDigest);
    assert.equal(gone.status, 404);
    assert.equal(errorCode(gone), 'MANIFEST_UNKNOWN');
    assert.equal((await getManifest(berth.url, 'team/other', 'v1')).status, 404);
    assert.deepEqual((await listTags(berth.url, 'team/other')).tags, []);

    await skopeo.delete(docker(`mirror/app@${app.manifestDigest}`));
    const mirror = await getManifest(berth.url, 'mirror/app', app.manifestDigest);
    assert.equal(mirror.status, 404);
    assert.equal(errorCode(mirror), 'MANIFEST_UNKNOWN');
    await assert.rejects(skopeo.inspectRaw(docker('mirror/app:v1')));

    // The same manifest in another repository is untouched, and still pulls.
    const original = await getManifest(berth.url, 'team/app', 'v1');
    assert.equal(original.status, 200);
    assert.equal(original.headers.get('docker-content-digest'), app.manifestDigest);
    await assertImageServed('team/app', app);
    const out = join(work, 'out-after-delete');
    await skopeo.copy(docker('team/app:v1'), `oci:${out}:v1`, ['--preserve-digests']);
    await assertSameBlobs(src, out, app);
  });
});

const hexOf = (digest: string) => digest.slice(digest.indexOf(':') + 1);

/** Files under `<dataDir>/blobs` named by a digest's hex, counted by name. */
async function blobFiles(dataDir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const entries = await readdir(join(dataDir, 'blobs'), { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile() || !/^[0-9a-f]{64}$/.test(e.name)) continue;
    counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
  }
  assert.ok(counts.size > 0, `no blob files under ${dataDir}/blobs`);
  return counts;
}
