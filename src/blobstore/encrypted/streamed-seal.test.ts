/**
 * Appends sealed as bytes come (streamed-chunk.ts), through the encrypted store over the fs driver
 * on byte threads with the native sealer: the staged chunk object holds the whole chunks and then
 * the tail's ciphertext; the next append continues from there without a rebase; the committed
 * blob is bit for bit what the chunk sealer writes (chunk-format.ts) under the blob's own data
 * key; and bytes enciphered but not recorded (a crash before the record) are dead, so the upload
 * is rebased under a new data key rather than enciphering other bytes at their place.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestHex, digestOf, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { appendPart as patch, bytes, readAll, sourceOf } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { BlobIntegrityError, ChunkSealer, HEADER_SIZE, TAG_SIZE, parseHeader, unwrapDataKey } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { nativeSeal } from './native-seal.js';
import { SealPool } from './seal-pool.js';
import { chunkObjectId, slotId } from './staged-record.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

const CHUNK = 4096;
const key: WrappingKey = { id: randomBytes(16), key: randomBytes(32) };
const keys: WrappingKeys = {
  current: async () => key,
  byId: async (id) => {
    if (!id.equals(key.id)) throw new Error('unknown key');
    return key;
  },
};

/** The blob as the chunk sealer writes it under the data key its own header wraps. */
function sealedByChunkSealer(blob: Buffer, plain: Buffer): Buffer {
  const head = blob.subarray(0, HEADER_SIZE);
  const dataKey = unwrapDataKey(parseHeader(head, 'blob'), key, 'blob');
  const sealer = new ChunkSealer({ dataKey, header: Buffer.from(head), chunkSize: CHUNK });
  return Buffer.concat([...sealer.update(plain), ...sealer.final()]);
}

describe('appends sealed as bytes come', { skip: nativeSeal() ? undefined : 'the sealer addon is not built' }, () => {
  const threads = new ByteThreads({ threads: 2 });
  // Slots smaller than a chunk and not a multiple of GCM's block: pieces end anywhere.
  const pool = new SealPool(threads, { slotBytes: 3000, slots: 3 });
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-streamed-'));
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  function world(name: string) {
    const dir = join(root, name);
    const store: BlobStore = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keys, { chunkSize: CHUNK, sealing: pool });
    const staged = async (id: string): Promise<number | undefined> => (await stat(join(dir, 'uploads', id)).catch(() => undefined))?.size;
    const blob = (digest: Digest): Promise<Buffer> => {
      const hex = digestHex(digest);
      return readFile(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex));
    };
    return { dir, store, staged, blob };
  }

  /** The chunk object of `total` staged bytes: whole chunks, then the tail's ciphertext. */
  const layout = (total: number): number => {
    const whole = Math.max(0, Math.ceil(total / CHUNK) - 1);
    return HEADER_SIZE + whole * (CHUNK + TAG_SIZE) + (total - whole * CHUNK);
  };

  it('PATCHes ending inside a chunk and on its edge continue without a rebase, and commit the chunk sealer bytes', async () => {
    const { store, staged, blob } = world('edges');
    // Ends at GCM block edges and beside them, on a chunk's edge (4096, 8192, 12288), one past it, ...
    const lengths = [1, 15, 16, 17, CHUNK - 49, CHUNK, 1, CHUNK - 1, CHUNK + 1, 2 * CHUNK + 16, 0, 3000, 5];
    const data = bytes(
      lengths.reduce((a, b) => a + b, 0),
      7,
    );
    const id = randomUUID();
    let total = 0;
    for (const n of lengths) {
      await patch(store, id, data.subarray(total, total + n), 1000);
      total += n;
      assert.equal(await store.statUpload(id), total);
      assert.equal(await staged(id), layout(total), `the chunk object after ${total} bytes`);
    }
    assert.equal(await staged(chunkObjectId(id, 1)), undefined, 'never rebased');
    assert.deepEqual(await readAll(await store.readUpload(id)), data);
    await (await store.writer(id, { append: true })).commit(digestOf(data));
    const stored = await blob(digestOf(data));
    assert.ok(stored.equals(sealedByChunkSealer(stored, data)), 'the committed blob is the chunk sealer bytes');
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
  });

  it('an upload ending exactly on a chunk edge, or empty, commits the chunk sealer bytes', async () => {
    const { store, blob } = world('ends');
    for (const size of [0, 1, 16, CHUNK, 3 * CHUNK, 3 * CHUNK + 1]) {
      const data = bytes(size, 100 + size);
      const id = randomUUID();
      await patch(store, id, data, 777);
      await (await store.writer(id, { append: true })).commit(digestOf(data));
      const stored = await blob(digestOf(data));
      assert.ok(stored.equals(sealedByChunkSealer(stored, data)), `${size} bytes`);
    }
  });

  it('an append its client cuts off mid-body keeps what came, and the upload resumes from there', async () => {
    const { store, staged, blob } = world('cut-off');
    const data = bytes(5 * CHUNK + 1234, 8);
    const id = randomUUID();
    await patch(store, id, data.subarray(0, 100));
    const w = await store.writer(id, { append: true });
    const sent = 2 * CHUNK + 333;
    const source = new Readable({ read() {} });
    source.push(data.subarray(100, 100 + sent));
    setTimeout(() => source.destroy(new Error('the client went away')), 20);
    await assert.rejects(w.append(source), /the client went away/);
    await w.close();
    const have = (await store.statUpload(id))!;
    assert.ok(have > 100 && have <= 100 + sent, `${have} bytes recorded`);
    assert.equal(await staged(id), layout(have), 'the tail of what came is stored after the chunks');
    await patch(store, id, data.subarray(have));
    assert.equal(await staged(chunkObjectId(id, 1)), undefined, 'resumed in place: every byte enciphered was recorded');
    await (await store.writer(id, { append: true })).commit(digestOf(data));
    const stored = await blob(digestOf(data));
    assert.ok(stored.equals(sealedByChunkSealer(stored, data)));
  });

  it('bytes enciphered but not recorded (a crash before the record) are dead: the next append rebases under a new data key', async () => {
    const { dir, store, staged, blob } = world('unrecorded');
    const uploads = join(dir, 'uploads');
    const first = bytes(100, 9);
    const id = randomUUID();
    await patch(store, id, first);
    const records = await Promise.all([0, 1].map((s) => readFile(join(uploads, slotId(id, s as 0 | 1))).catch(() => undefined)));
    // A second PATCH within the same chunk: its bytes go where the next ones would, after the
    // tail's; then its record is "lost".
    await patch(store, id, bytes(200, 10));
    for (const [s, raw] of records.entries()) {
      if (raw) await writeFile(join(uploads, slotId(id, s as 0 | 1)), raw);
      else await rm(join(uploads, slotId(id, s as 0 | 1)), { force: true });
    }
    assert.equal(await store.statUpload(id), 100);
    assert.equal(await staged(id), layout(300), '300 bytes enciphered, 100 recorded');
    const header0 = (await readFile(join(uploads, id))).subarray(0, HEADER_SIZE);
    const second = bytes(3 * CHUNK, 11);
    await patch(store, id, second);
    assert.equal(await staged(id), undefined, 'the old chunk object is gone');
    const all = Buffer.concat([first, second]);
    assert.equal(await staged(chunkObjectId(id, 1)), layout(all.length), 'rebased into a new chunk object');
    await (await store.writer(id, { append: true })).commit(digestOf(all));
    const stored = await blob(digestOf(all));
    assert.ok(!stored.subarray(0, HEADER_SIZE).equals(header0), 'under a new data key');
    assert.ok(stored.equals(sealedByChunkSealer(stored, all)));
    assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
  });

  it('a node that does not stream (inline sealing) rebases an upload whose tail is stored; a commit there appends only the tag', async () => {
    const { dir, store, staged, blob } = world('mixed');
    const inline = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keys, { chunkSize: CHUNK });
    const data = bytes(3 * CHUNK + 700, 14);
    const id = randomUUID();
    await patch(store, id, data.subarray(0, CHUNK + 300));
    await patch(inline, id, data.subarray(CHUNK + 300, 2 * CHUNK + 100));
    assert.ok((await staged(chunkObjectId(id, 1))) !== undefined, 'rebased rather than written after the stored tail');
    await patch(store, id, data.subarray(2 * CHUNK + 100));
    await (await inline.writer(id, { append: true })).commit(digestOf(data));
    const stored = await blob(digestOf(data));
    assert.ok(stored.equals(sealedByChunkSealer(stored, data)));
  });

  it("a stored tail's ciphertext altered on disk never becomes the blob's bytes: the append reading it back fails, or the blob's reads do", async () => {
    const { dir, store, staged, blob } = world('altered');
    const data = bytes(3 * CHUNK + 500, 12);
    const alter = async (id: string): Promise<void> => {
      const path = join(dir, 'uploads', id);
      const chunks = await readFile(path);
      chunks[chunks.length - 5] = chunks[chunks.length - 5]! ^ 1;
      await writeFile(path, chunks);
    };
    // Continued within its chunk: the append's tail is read back, checked, refused.
    const id = randomUUID();
    await patch(store, id, data.subarray(0, CHUNK + 200));
    await alter(id);
    const w = await store.writer(id, { append: true });
    await assert.rejects(w.append(sourceOf(data.subarray(CHUNK + 200, CHUNK + 500))), /not what was written/);
    await w.close();
    assert.equal(await store.statUpload(id), CHUNK + 200, 'the upload is what its record says');
    await patch(store, id, data.subarray(CHUNK + 200));
    assert.ok((await staged(chunkObjectId(id, 1))) !== undefined, 'rebased past the bytes not recorded');
    await (await store.writer(id, { append: true })).commit(digestOf(data));
    const stored = await blob(digestOf(data));
    assert.ok(stored.equals(sealedByChunkSealer(stored, data)));
    // Continued past its chunk: that chunk's tag is made over what was enciphered, so the blob's
    // reads fail on it rather than give the altered bytes.
    const data2 = bytes(3 * CHUNK + 500, 13);
    const id2 = randomUUID();
    await patch(store, id2, data2.subarray(0, CHUNK + 200));
    await alter(id2);
    await patch(store, id2, data2.subarray(CHUNK + 200));
    await (await store.writer(id2, { append: true })).commit(digestOf(data2));
    await assert.rejects(async () => readAll(await store.read(digestOf(data2))), BlobIntegrityError);
  });
});
