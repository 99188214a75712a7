/**
 * A full disk is a clear error (issue #12, point 10). Berth runs with its data directory on a
 * small tmpfs; a filler file takes the space. Every upload path then answers "storage is full"
 * (507 on /v2, LimitExceededException on the JSON API), frees what it had staged at once, and
 * leaves what was acknowledged before intact; with the filler gone the next push succeeds.
 * Mounting needs root (as in CI); elsewhere the suite is skipped, saying why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, rm, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompleteLayerUploadCommand, InitiateLayerUploadCommand, UploadLayerPartCommand } from '@aws-sdk/client-ecr';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { ecrClient } from './helpers/ecr-client.js';
import {
  asBody,
  errorCode,
  getBlob,
  getManifest,
  pushBlob,
  pushManifest,
  request,
  sha256,
  startUpload,
  uploadUrl,
  type Fetched,
} from './helpers/registry-http.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MiB = 1024 * 1024;

function manifestOf(config: Buffer, layers: Buffer[], annotation = ''): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
      ...(annotation && { annotations: { filler: annotation } }),
    }),
  );
}

/** Why the suite cannot run here, or undefined when a tmpfs can be mounted. */
function mountTmpfs(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `cannot mount a tmpfs: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Writes zeros into `path` until the file system says it is full. */
async function fillUp(path: string): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(256 * 1024);
  try {
    for (;;) await fh.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await fh.close();
  }
}

function assertStorageFull(res: Fetched, what: string): void {
  assert.equal(res.status, 507, `${what}: ${res.status} ${res.body.toString()}`);
  assert.equal(errorCode(res), 'BLOB_UPLOAD_INVALID');
  assert.match(res.body.toString(), /storage is full/);
}

/** Every file under dir whose name contains `id` (a staged upload, or its sealing shadow). */
async function filesNaming(dir: string, id: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((f) => f.includes(id));
}

const dir = await tempDir('berth-disk-full-');
const unavailable = mountTmpfs(dir);

describe('a full disk', { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  const filler = join(dir, 'filler');
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(MiB);
  const earlier = manifestOf(config, [layer]);

  before(async () => {
    berth = await startBerth({ dataDir: dir });
    for (const blob of [config, layer]) assert.equal((await pushBlob(berth.url, 'full/app', blob, 'patch')).status, 201);
    assert.equal((await pushManifest(berth.url, 'full/app', 'v1', earlier, OCI_MANIFEST)).status, 201);
  });

  after(async () => {
    await berth?.cleanup({ keepData: true });
    if (!unavailable) execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a manifest the metadata database has no room for, and records nothing', async () => {
    await fillUp(filler);
    // Megabytes of annotation: more than the database's write-ahead log holds already.
    const big = manifestOf(config, [layer], 'x'.repeat(3 * MiB));
    const res = await pushManifest(berth.url, 'full/app', 'big', big, OCI_MANIFEST);
    assert.equal(res.status, 507, res.body.toString());
    assert.match(res.body.toString(), /storage is full/);
    assert.equal((await getManifest(berth.url, 'full/app', 'big')).status, 404);
  });

  it('answers 507 to a chunked upload that fills the disk and frees its staged bytes', async () => {
    // A little room: the session can be recorded and some bytes staged before the disk is full.
    const fh = await open(filler, 'r+');
    await fh.truncate((await fh.stat()).size - 4 * MiB);
    await fh.close();
    const free = await freeBytes(dir);
    const location = await startUpload(berth.url, 'full/app');
    const id = new URL(location).pathname.split('/').pop()!;
    const res = await request(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: asBody(randomBytes(12 * MiB)) });
    assertStorageFull(res, 'PATCH');
    assert.deepEqual(await filesNaming(dir, id), [], 'the staged bytes are gone');
    assert.ok((await freeBytes(dir)) >= free - 512 * 1024, 'the space the upload took is free again');
    assert.equal((await request(location)).status, 404, 'the session is over');
  });

  it('answers 507 to a monolithic upload that fills the disk', async () => {
    const blob = randomBytes(12 * MiB);
    const res = await request(`${berth.url}/v2/full/app/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: asBody(blob),
    });
    assertStorageFull(res, 'POST ?digest=');
    assert.equal((await getBlob(berth.url, 'full/app', sha256(blob), 'HEAD')).status, 404);
  });

  it('answers 507 to the final chunk of a PUT that fills the disk', async () => {
    const blob = randomBytes(12 * MiB);
    const location = await startUpload(berth.url, 'full/app');
    const res = await request(uploadUrl(berth.url, location, `digest=${sha256(blob)}`), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: asBody(blob),
    });
    assertStorageFull(res, 'PUT');
  });

  it('answers LimitExceededException to UploadLayerPart on the JSON API', async () => {
    const ecr = ecrClient(berth);
    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'full/app' }));
    // The largest part the maxLayerPartBytes quota (ECR's 10 MiB) allows, still more than the disk has left.
    const part = randomBytes(10 * MiB);
    await assert.rejects(
      ecr.send(new UploadLayerPartCommand({ repositoryName: 'full/app', uploadId, partFirstByte: 0, partLastByte: part.length - 1, layerPartBlob: part })),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, 'LimitExceededException');
        assert.match(e.message, /storage is full/);
        assert.equal(e.$metadata?.httpStatusCode, 400);
        return true;
      },
    );
    assert.deepEqual(await filesNaming(dir, uploadId!), []);
    await assert.rejects(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'full/app', uploadId, layerDigests: [sha256(part)] })), {
      name: 'UploadNotFoundException',
    });
  });

  it('keeps what was pushed before intact', async () => {
    const m = await getManifest(berth.url, 'full/app', 'v1');
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), sha256(earlier));
    for (const blob of [config, layer]) {
      const b = await getBlob(berth.url, 'full/app', sha256(blob));
      assert.equal(b.status, 200);
      assert.equal(sha256(b.body), sha256(blob));
    }
  });

  it('takes the next push once space is freed', async () => {
    await unlink(filler);
    const blob = randomBytes(12 * MiB);
    assert.equal((await pushBlob(berth.url, 'full/app', blob, 'patch')).status, 201);
    const manifest = manifestOf(config, [blob]);
    assert.equal((await pushManifest(berth.url, 'full/app', 'v2', manifest, OCI_MANIFEST)).status, 201);
    const pulled = await getBlob(berth.url, 'full/app', sha256(blob));
    assert.equal(sha256(pulled.body), sha256(blob));
    assert.equal(sha256((await getManifest(berth.url, 'full/app', 'v2')).body), sha256(manifest));
  });
});
