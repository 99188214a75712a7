/**
 * Small sealed blobs opened on the calling thread from one read (open-inline.ts), over the fs
 * driver with an open pool beside them, as the server runs: exact bytes for the whole blob and
 * for ranges across chunk boundaries, with the native cipher and with Node's crypto; a blob one
 * byte past the cap goes to the pool; blobs sealed with another chunk size still read; a chunk
 * that fails, a blob cut short or a tampered header are refused before anything is answered;
 * and no file is left open, whatever happened.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isDirectBody } from '../../core/direct-body.js';
import { digestHex, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, openFilesUnder, putBlob, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { InlineBody } from './open-inline.js';
import { OpenPool } from './open-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

const key = { id: randomBytes(16), key: randomBytes(32) };
const keys: WrappingKeys = { current: async () => key, byId: async () => key };

/** A destination that copies each piece and completes the write a turn later, as a socket does. */
class Sink extends Writable {
  readonly pieces: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pieces.push(Buffer.from(chunk));
    setImmediate(cb);
  }
  get data(): Buffer {
    return Buffer.concat(this.pieces);
  }
}

const CHUNK = 1024;
/** Five chunks and a bit fit under the cap; the blob one byte larger does not. */
const CAP = 5 * (CHUNK + TAG_SIZE) + 300 + TAG_SIZE;

for (const native of [true, false])
  describe(`inline opens of small blobs${native ? '' : ", Node's crypto"}`, () => {
    const threads = new ByteThreads({ threads: 1 });
    const pool = new OpenPool(threads, { native });
    let root = '';
    let store: BlobStore;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-open-inline-'));
      store = createEncryptedBlobStore(createFsBlobStore({ root }), keys, { chunkSize: CHUNK, opening: pool, inlineOpenBytes: CAP });
    });
    after(async () => {
      await threads.close();
      await rm(root, { recursive: true, force: true });
    });
    const pathOf = (digest: Digest): string => {
      const hex = digestHex(digest);
      return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
    };

    async function download(digest: Digest, range?: { start: number; end: number }): Promise<{ data: Buffer; inline: boolean }> {
      const body = await store.read(digest, range);
      assert.ok(isDirectBody(body));
      const sink = new Sink();
      await body.writeTo(sink);
      return { data: sink.data, inline: body instanceof InlineBody };
    }

    it('opens a blob up to the cap inline, whole and in ranges across chunks, read or written, and the next byte in the pool', async () => {
      const opensBefore = await openFilesUnder(root);
      const finished = pool.finished.native + pool.finished.node;
      for (const size of [1, 512, CHUNK, 5 * CHUNK + 300]) {
        const data = bytes(size, size);
        const digest = await putBlob(store, data);
        assert.deepEqual(await download(digest), { data, inline: true }, `${size} bytes`);
        assert.deepEqual(await readAll(await store.read(digest)), data, `${size} bytes, read as a stream`);
        for (const [start, end] of [
          [0, 0],
          [size - 1, size - 1],
          [Math.floor(size / 3), size - 1],
          [CHUNK - 2, CHUNK + 1],
          [2 * CHUNK, 2 * CHUNK + 5000],
        ] as const) {
          if (start >= size) continue;
          assert.deepEqual(await download(digest, { start, end }), { data: data.subarray(start, end + 1), inline: true }, `${size}: ${start}-${end}`);
        }
      }
      assert.equal(pool.finished.native + pool.finished.node, finished, 'none of them went to the pool');
      const larger = bytes(5 * CHUNK + 301, 9);
      const digest = await putBlob(store, larger);
      assert.deepEqual(await download(digest), { data: larger, inline: false });
      assert.equal(await openFilesUnder(root), opensBefore, 'every file is closed');
    });

    it('reads a blob sealed with another chunk size (the header says which)', async () => {
      const other = createEncryptedBlobStore(createFsBlobStore({ root }), keys, { chunkSize: 256, opening: pool });
      const data = bytes(3000, 3);
      const digest = await putBlob(other, data);
      assert.deepEqual(await download(digest), { data, inline: true });
      assert.deepEqual(await download(digest, { start: 250, end: 2900 }), { data: data.subarray(250, 2901), inline: true });
    });

    it('refuses a chunk that fails, a blob cut short and a tampered header before answering, and closes the file', async () => {
      const data = bytes(3000, 4);
      const digest = await putBlob(store, data);
      const good = await readFile(pathOf(digest));
      const opensBefore = await openFilesUnder(root);
      const bad = Buffer.from(good);
      bad[bad.length - 1]! ^= 1;
      await writeFile(pathOf(digest), bad);
      await assert.rejects(store.read(digest), BlobIntegrityError);
      // A range that covers only good chunks opens only those.
      assert.deepEqual((await download(digest, { start: 10, end: 20 })).data, data.subarray(10, 21));
      await writeFile(pathOf(digest), good.subarray(0, good.length - 1));
      await assert.rejects(store.read(digest), BlobIntegrityError);
      await writeFile(pathOf(digest), good.subarray(0, good.length - (3000 - 2 * CHUNK) - TAG_SIZE));
      await assert.rejects(store.read(digest), BlobIntegrityError, 'the last chunk dropped');
      const header = Buffer.from(good);
      header[HEADER_SIZE - 10]! ^= 1;
      await writeFile(pathOf(digest), header);
      await assert.rejects(store.read(digest), BlobIntegrityError);
      await writeFile(pathOf(digest), good);
      assert.deepEqual((await download(digest)).data, data);
      assert.equal(await openFilesUnder(root), opensBefore);
    });
  });
