/**
 * Holds the fs driver to the blob-store contract, plus what only a disk can show: the layout is
 * the one documented in fs-blob-store.ts, and nothing is left behind under uploads/.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import { release } from '../../core/fresh-pieces.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createFsBlobStore } from './fs-blob-store.js';

runBlobStoreSuite({
  name: 'fs',
  create: async (dir) => createFsBlobStore({ root: dir }),
  contents: async (_store, dir) =>
    (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name))),
  skip: [{ reason: 'the file system cannot presign', tests: ['presignedUrl gives an http(s) URL for a stored blob'] }],
});

describe('fs blob store on disk', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fs-layout-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('builds no path from a name it was not given checked, even without the checking wrapper', async () => {
    const store = createFsBlobStore({ root });
    const outside = join(root, '..', 'escaped');
    await assert.rejects(store.writer('../../escaped', { append: false }), /invalid upload id/);
    await assert.rejects(store.stat('sha256:../../../escaped' as never), /invalid digest/);
    await assert.rejects(store.delete('sha256:../../escaped' as never), /invalid digest/);
    await assert.rejects(readFile(outside), { code: 'ENOENT' });
  });

  /** Every file under `dir`, relative to it, sorted. */
  async function files(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();
  }

  it('stores blobs at blobs/<alg>/<first two hex>/<hex> and leaves nothing under uploads/', async () => {
    const dir = join(root, 'layout');
    const store = createFsBlobStore({ root: dir });
    const data = Buffer.from('hello, berth');
    const digest = digestOf(data);
    const hex = digest.slice('sha256:'.length);
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await w.append(Readable.from([data]));
    assert.deepEqual(await files(dir), [join('uploads', id)]);
    await w.commit(digest);
    assert.deepEqual(await files(dir), [join('blobs', 'sha256', hex.slice(0, 2), hex)]);
    assert.deepEqual(await readFile(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex)), data);
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
  });

  it('sha512 blobs get their own tree', async () => {
    const dir = join(root, 'sha512');
    const store = createFsBlobStore({ root: dir });
    const data = Buffer.from('five hundred and twelve');
    const digest = digestOf(data, 'sha512');
    const w = await store.writer(randomUUID(), { append: false });
    await w.append(Readable.from([data]));
    await w.commit(digest);
    const hex = digest.slice('sha512:'.length);
    assert.deepEqual(await files(dir), [join('blobs', 'sha512', hex.slice(0, 2), hex)]);
  });

  it('leaks no staged file when an upload is cancelled', async () => {
    const dir = join(root, 'cancel');
    const store = createFsBlobStore({ root: dir });
    const w = await store.writer(randomUUID(), { append: false });
    await w.append(Readable.from([Buffer.alloc(4096, 1)]));
    await w.cancel();
    const w2 = await store.writer(randomUUID(), { append: true });
    await w2.cancel();
    assert.deepEqual(await files(dir), []);
  });

  it('sees a staged file left by a crashed process as an upload, never as a blob', async () => {
    const dir = join(root, 'crash');
    const store = createFsBlobStore({ root: dir });
    const id = randomUUID();
    await store.writer(id, { append: false });
    await writeFile(join(dir, 'uploads', id), 'partial');
    assert.equal(await store.statUpload(id), 'partial'.length);
    assert.equal(await store.stat(digestOf('partial')), undefined);
    const w = await store.writer(id, { append: true });
    assert.equal(w.size, 'partial'.length);
  });
  it('reads a small upload with buffers its size, not a megabyte each', async () => {
    // Small pushes read their upload records several times; megabyte buffers for 200-byte files
    // cost a full garbage collection every few pushes.
    const store = createFsBlobStore({ root: join(root, 'small') });
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    const data = Buffer.alloc(300, 1);
    await w.append(Readable.from([data]));
    const stream = await store.readUpload(id);
    assert.ok(stream.readableHighWaterMark <= 16 * 1024, `buffers of ${stream.readableHighWaterMark} bytes`);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), data);
    await w.cancel();
  });

  it('reads a small upload whole into one buffer of its own, which may be released', async () => {
    const store = createFsBlobStore({ root: join(root, 'whole') });
    const id = randomUUID();
    assert.equal(await store.readSmallUpload!(id), undefined);
    const w = await store.writer(id, { append: false });
    const data = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => i % 251));
    await w.append(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    const got = await store.readSmallUpload!(id);
    assert.ok(got);
    assert.deepEqual(got, data);
    // Its own ArrayBuffer, exactly its size: release() can free it (core/fresh-pieces.ts).
    assert.ok(got.buffer instanceof ArrayBuffer);
    assert.equal(got.byteOffset, 0);
    assert.equal(got.buffer.byteLength, data.length);
    assert.equal(release(got), true);
    await w.cancel();
    assert.equal(await store.readSmallUpload!(id), undefined);
    await assert.rejects(store.readSmallUpload!('../x'));
  });
});
