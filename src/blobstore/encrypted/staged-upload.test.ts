/**
 * The encrypted store's staged uploads (format v2, staged-upload.ts) over the fs driver: written
 * once in the committed chunk format and committed without reading the bytes back; resumed by
 * another node; consistent after a crash between the chunk write and the record write, or in the
 * middle of a record rewrite; refusing a tampered tail; and reading what earlier versions wrote
 * (blobs sealed by the chunk sealer, uploads staged in the v1 CTR format).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestHex, digestOf, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, readAll, sourceOf } from '../testing.js';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE, ciphertextSize, createSealTransform, sealHeader } from './chunk-format.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { nativeSeal } from './native-seal.js';
import { SealPool } from './seal-pool.js';
import { RECORD_MAGIC, chunkObjectId, slotId } from './staged-record.js';
import { createStagingCipher, newStagingPrefix, parseStagingPrefix, stagingKey } from './staging-cipher.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

const CHUNK = 4096;

function ring(key: WrappingKey = { id: randomBytes(16), key: randomBytes(32) }): WrappingKeys & { key: WrappingKey } {
  return {
    key,
    current: async () => key,
    byId: async (id) => {
      if (!id.equals(key.id)) throw new Error('unknown key');
      return key;
    },
  };
}

/**
 * The path of the slot holding `id`'s current record: the one with the higher sequence number,
 * read from the records themselves (two rewrites within one mtime tick look alike by time).
 */
async function newestSlot(uploads: string, id: string): Promise<string> {
  const seqs = await Promise.all(
    ([0, 1] as const).map(async (slot) => {
      const raw = await readFile(join(uploads, slotId(id, slot))).catch(() => undefined);
      return raw && raw.length >= 24 && raw.subarray(0, 8).equals(RECORD_MAGIC) ? raw.readBigUInt64BE(16) : -1n;
    }),
  );
  assert.ok(seqs[0] !== seqs[1], 'one slot is newer');
  return join(uploads, slotId(id, seqs[1]! > seqs[0]! ? 1 : 0));
}

/** Test scaffolding, not a mock: the fs driver, counting the reads of staged objects other than records. */
type Counting = BlobStore & { bulkReads: number };

function counting(inner: BlobStore, id: () => string | undefined): Counting {
  const c: Counting = {
    ...inner,
    bulkReads: 0,
    readUpload: async (upload, signal) => {
      const uid = id();
      if (uid === undefined || (upload !== slotId(uid, 0) && upload !== slotId(uid, 1))) c.bulkReads++;
      return inner.readUpload(upload, signal);
    },
  };
  return c;
}

async function stagedFiles(dir: string): Promise<Map<string, number>> {
  const names = await readdir(join(dir, 'uploads')).catch(() => []);
  return new Map(await Promise.all(names.map(async (n) => [n, (await stat(join(dir, 'uploads', n))).size] as [string, number])));
}

function blobPath(root: string, digest: Digest): string {
  const hex = digestHex(digest);
  return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

/** Appends `part` through a writer of its own on `store`, as one PATCH does. */
async function patch(store: BlobStore, id: string, part: Buffer): Promise<void> {
  const w = await store.writer(id, { append: true });
  assert.equal(await w.append(sourceOf(part, 3000)), part.length);
  await w.close();
}

async function commit(store: BlobStore, id: string, digest: Digest): Promise<void> {
  await (await store.writer(id, { append: true })).commit(digest);
}

// Both ways of sealing an append: inline, and on byte threads with slots smaller than a chunk.
const threads = new ByteThreads({ threads: 2 });
after(() => threads.close());
for (const sealing of [undefined, new SealPool(threads, { slotBytes: 3000, slots: 3 })]) {
  describe(`encrypted blob store: staged uploads written once, sealed ${sealing ? 'on byte threads' : 'inline'}`, () => {
    let root = '';
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-staged-'));
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    // On byte threads with the native sealer, an append seals as bytes come and leaves its tail's
    // ciphertext after the whole chunks (streamed-chunk.ts).
    const streamed = sealing !== undefined && nativeSeal() !== undefined;

    function world(name: string, keys: WrappingKeys = ring()) {
      const dir = join(root, name);
      let current: string | undefined;
      const inner = counting(createFsBlobStore({ root: dir }), () => current);
      const node = (): BlobStore => createEncryptedBlobStore(inner, keys, { chunkSize: CHUNK, ...(sealing && { sealing }) });
      return { dir, inner, node, watch: (id: string) => (current = id) };
    }

    it('stages each byte once, in the chunk format, and commits without reading it back', async () => {
      const { dir, inner, node, watch } = world('once');
      const store = node();
      for (const [i, size] of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 300_001].entries()) {
        const data = bytes(size, 10 + i);
        const id = watch(randomUUID());
        inner.bulkReads = 0;
        // One PATCH and an empty PUT: two writers.
        await patch(store, id, data);
        const files = await stagedFiles(dir);
        const whole = Math.max(0, Math.ceil(size / CHUNK) - 1);
        const tail = streamed ? size - whole * CHUNK : 0;
        assert.equal(files.get(id), HEADER_SIZE + whole * (CHUNK + TAG_SIZE) + tail, `the chunk object holds the whole chunks (${size} bytes)`);
        assert.equal(files.size, size > 0 ? 3 : 2, 'the chunk object and its record slots');
        const recordBytes = [...files.values()].reduce((a, b) => a + b, 0) - files.get(id)!;
        assert.ok(recordBytes < 2 * (CHUNK + 256), `records hold at most a tail each (${recordBytes} bytes)`);
        await commit(store, id, digestOf(data));
        assert.equal(inner.bulkReads, 0, `nothing read back (${size} bytes)`);
        assert.deepEqual(await stagedFiles(dir), new Map(), 'nothing staged is left');
        assert.equal((await readFile(blobPath(dir, digestOf(data)))).length, ciphertextSize(size, CHUNK));
        assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
        if (size > 2) {
          const range = { start: Math.floor(size / 3), end: size - 2 };
          assert.deepEqual(await readAll(await store.read(digestOf(data), range)), data.subarray(range.start, range.end + 1));
        }
      }
      // A monolithic PUT: one writer appends and commits; several PATCHes of odd sizes.
      const mono = bytes(50_000, 30);
      const w = await store.writer(watch(randomUUID()), { append: true });
      await w.append(sourceOf(mono));
      inner.bulkReads = 0;
      await w.commit(digestOf(mono));
      assert.equal(inner.bulkReads, 0);
      assert.deepEqual(await readAll(await store.read(digestOf(mono))), mono);
      const parts = [bytes(10_000, 31), bytes(1, 32), bytes(CHUNK, 33), bytes(70_000, 34)];
      const id = watch(randomUUID());
      for (const p of parts) await patch(store, id, p);
      inner.bulkReads = 0;
      await commit(store, id, digestOf(Buffer.concat(parts)));
      assert.equal(inner.bulkReads, 0);
      assert.deepEqual(await readAll(await store.read(digestOf(Buffer.concat(parts)))), Buffer.concat(parts));
    });

    it('a metered append counts every piece, stops at the one its meter refuses, keeps the source whole, and stays resumable', async () => {
      const { node, watch } = world('metered');
      const store = node();
      const id = watch(randomUUID());
      const data = bytes(5 * CHUNK + 123, 40);
      const w = await store.writer(id, { append: true });
      assert.equal(w.meters, true);
      const refusal = new Error('over the limit');
      let taken = 0;
      const meter = {
        take: (piece: Buffer) => {
          if (taken + piece.length > 3 * CHUNK + 500) throw refusal;
          taken += piece.length;
        },
      };
      const source = sourceOf(data, 1000);
      await assert.rejects(w.append(source, undefined, undefined, meter), (e) => e === refusal);
      assert.equal(source.destroyed, false, 'the caller keeps its source (it may still answer the client)');
      await w.close();
      // Every piece the meter took (twelve of 1,000 bytes) is staged, in whole chunks and the record's tail.
      assert.equal(taken, 12_000);
      assert.equal(await store.statUpload(id), taken);
      await patch(store, id, data.subarray(taken));
      await commit(store, id, digestOf(data));
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
    });

    it('resumes an upload on another node (a second store over the same inner store), still without a re-read', async () => {
      const { dir, inner, node, watch } = world('nodes');
      const [a, b, c] = [node(), node(), node()];
      const data = bytes(100_000, 40);
      const id = watch(randomUUID());
      await patch(a, id, data.subarray(0, 30_001));
      assert.equal(await b.statUpload(id), 30_001);
      assert.deepEqual(await readAll(await b.readUpload(id)), data.subarray(0, 30_001));
      await patch(b, id, data.subarray(30_001, 60_000));
      await patch(a, id, data.subarray(60_000));
      assert.equal(await c.statUpload(id), data.length);
      inner.bulkReads = 0;
      await commit(c, id, digestOf(data));
      assert.equal(inner.bulkReads, 0);
      assert.deepEqual(await readAll(await a.read(digestOf(data))), data);
      assert.deepEqual(await stagedFiles(dir), new Map());
    });

    it('after a crash between the chunk write and the record write, the upload is what its record says', async () => {
      const { dir, node } = world('crash-between');
      const store = node();
      const id = randomUUID();
      const first = bytes(10_000, 50);
      await patch(store, id, first);
      const uploads = join(dir, 'uploads');
      // The records as they were after the first PATCH; the second PATCH's chunks are then stored
      // but its record "never written".
      const slots = [slotId(id, 0), slotId(id, 1)];
      const before = await Promise.all(slots.map((s) => readFile(join(uploads, s)).catch(() => undefined)));
      await patch(store, id, bytes(50_000, 51));
      for (const [i, s] of slots.entries()) {
        if (before[i]) await writeFile(join(uploads, s), before[i]);
        else await rm(join(uploads, s), { force: true });
      }
      assert.ok((await stagedFiles(dir)).get(id)! > HEADER_SIZE + 2 * (CHUNK + TAG_SIZE), 'the chunks of the lost PATCH are stored');
      // Another node sees exactly the first PATCH, and resumes from there.
      const other = node();
      assert.equal(await other.statUpload(id), first.length);
      assert.deepEqual(await readAll(await other.readUpload(id)), first);
      const second = bytes(20_000, 52);
      await patch(other, id, second);
      const all = Buffer.concat([first, second]);
      assert.deepEqual(await readAll(await store.readUpload(id)), all);
      assert.ok(!(await stagedFiles(dir)).has(id), 'rebased past the dead bytes into a new chunk object');
      assert.ok((await stagedFiles(dir)).has(chunkObjectId(id, 1)));
      await commit(store, id, digestOf(all));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
      assert.deepEqual(await stagedFiles(dir), new Map());

      // A crash in the middle of a record rewrite: the newer slot is cut short, the older one holds.
      const id2 = randomUUID();
      await patch(store, id2, first);
      await patch(store, id2, second);
      const cut = await newestSlot(uploads, id2);
      await truncate(cut, 100);
      assert.equal(await store.statUpload(id2), first.length);
      assert.deepEqual(await readAll(await store.readUpload(id2)), first);
      await commit(node(), id2, digestOf(first));
      assert.deepEqual(await readAll(await store.read(digestOf(first))), first);
      assert.deepEqual(await stagedFiles(dir), new Map());
    });

    it('refuses a tampered tail or chunk: reads and commits fail, nothing becomes visible', async () => {
      const { dir, node } = world('tamper');
      const store = node();
      const data = bytes(3 * CHUNK + 500, 60);
      const id = randomUUID();
      await patch(store, id, data);
      const uploads = join(dir, 'uploads');
      const path = await newestSlot(uploads, id);
      const good = await readFile(path);
      for (const at of [good.length - 20 /* tail ciphertext */, good.length - 1 /* tag */, 25 /* chunk count */, 100 /* wrapped data key */, 150 /* nonce */]) {
        const bad = Buffer.from(good);
        bad[at] = bad[at]! ^ 0x04;
        await writeFile(path, bad);
        await assert.rejects(async () => readAll(await store.readUpload(id)), BlobIntegrityError, `byte ${at}`);
        await assert.rejects(commit(store, id, digestOf(data)), BlobIntegrityError, `byte ${at}`);
        assert.equal(await store.stat(digestOf(data)), undefined);
      }
      // A record moved from another upload does not open here either.
      const id2 = randomUUID();
      await patch(store, id2, data);
      await writeFile(path, await readFile(join(uploads, slotId(id2, 1))));
      await assert.rejects(async () => readAll(await store.readUpload(id)), BlobIntegrityError);
      // A flipped bit in a stored chunk fails the re-read a resuming node hashes.
      await writeFile(path, good);
      const chunks = await readFile(join(uploads, id));
      chunks[HEADER_SIZE + CHUNK + 7] = chunks[HEADER_SIZE + CHUNK + 7]! ^ 1;
      await writeFile(join(uploads, id), chunks);
      await assert.rejects(readAll(await node().readUpload(id)), BlobIntegrityError);
    });

    it('reads a blob committed by the sealer of earlier versions, whatever its chunk size', async () => {
      const { dir } = world('old-blob');
      const keys = ring();
      const fs = createFsBlobStore({ root: dir });
      const store = createEncryptedBlobStore(fs, keys, { chunkSize: CHUNK, ...(sealing && { sealing }) });
      for (const [i, chunkSize] of [65_536, 1024].entries()) {
        const data = bytes(200_000 + i, 70 + i);
        const dataKey = randomBytes(32);
        const seal = createSealTransform({ dataKey, header: sealHeader({ wrappingKey: keys.key, dataKey, chunkSize }), chunkSize });
        const w = await fs.writer(randomUUID(), { append: false });
        await w.append(sourceOf(data).pipe(seal));
        await w.commit(digestOf(data));
        assert.deepEqual(await store.stat(digestOf(data)), { size: data.length });
        assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
        assert.deepEqual(await readAll(await store.read(digestOf(data), { start: 70_000, end: 140_001 })), data.subarray(70_000, 140_002));
      }
    });

    it('continues an upload staged at another chunk size at that size; a rebase seals at its own', async () => {
      // As an upload staged by a version whose chunks were larger (256 KiB before session 15)
      // and finished by one whose default is smaller: the record's header decides, not the store.
      const { dir, inner, watch } = world('chunk-sizes');
      const keys = ring();
      const older = createEncryptedBlobStore(inner, keys, { chunkSize: 4 * CHUNK, ...(sealing && { sealing }) });
      const store = createEncryptedBlobStore(inner, keys, { chunkSize: CHUNK, ...(sealing && { sealing }) });
      const logOf = async (digest: Digest): Promise<number> => (await readFile(blobPath(dir, digest)))[9]!;
      const first = bytes(9 * CHUNK + 77, 100);
      const second = bytes(5 * CHUNK + 5, 101);
      const all = Buffer.concat([first, second]);
      const id = watch(randomUUID());
      await patch(older, id, first);
      assert.equal(await store.statUpload(id), first.length);
      await patch(store, id, second);
      const tail = streamed ? all.length - 3 * 4 * CHUNK : 0;
      assert.equal((await stagedFiles(dir)).get(id), HEADER_SIZE + 3 * (4 * CHUNK + TAG_SIZE) + tail, "appended in the upload's own chunks");
      await commit(store, id, digestOf(all));
      assert.equal(await logOf(digestOf(all)), Math.log2(4 * CHUNK));
      assert.equal((await readFile(blobPath(dir, digestOf(all)))).length, ciphertextSize(all.length, 4 * CHUNK));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
      const range = { start: 4 * CHUNK - 3, end: 9 * CHUNK + 2 };
      assert.deepEqual(await readAll(await store.read(digestOf(all), range)), all.subarray(range.start, range.end + 1));
      // Dead bytes past the record (a crash after a chunk write): the rebase seals afresh, at the store's size.
      const id2 = watch(randomUUID());
      const third = bytes(6 * CHUNK + 9, 102);
      await patch(older, id2, first);
      await writeFile(join(dir, 'uploads', id2), randomBytes(100), { flag: 'a' });
      await patch(store, id2, third);
      assert.ok((await stagedFiles(dir)).has(chunkObjectId(id2, 1)), 'rebased into a new chunk object');
      const all2 = Buffer.concat([first, third]);
      await commit(store, id2, digestOf(all2));
      assert.equal(await logOf(digestOf(all2)), Math.log2(CHUNK));
      assert.deepEqual(await readAll(await store.read(digestOf(all2))), all2);
      assert.deepEqual(await stagedFiles(dir), new Map());
    });

    it('reads, resumes and commits an upload staged in the v1 CTR format', async () => {
      const { dir, inner, watch } = world('v1-upload');
      const keys = ring();
      const store = createEncryptedBlobStore(inner, keys, { chunkSize: CHUNK, ...(sealing && { sealing }) });
      const stageV1 = async (id: string, data: Buffer): Promise<void> => {
        const prefix = newStagingPrefix(keys.key);
        const key = stagingKey(keys.key, parseStagingPrefix(prefix).salt, id);
        const w = await inner.writer(id, { append: false });
        await w.append(Readable.from([prefix]));
        await w.append(sourceOf(data).pipe(createStagingCipher(key, 0)));
        await w.close();
      };
      const data = bytes(30_000, 80);
      const id = watch(randomUUID());
      await stageV1(id, data);
      assert.equal(await store.statUpload(id), data.length);
      assert.deepEqual(await readAll(await store.readUpload(id)), data);
      const more = bytes(9_000, 81);
      await patch(store, id, more);
      const all = Buffer.concat([data, more]);
      assert.deepEqual(await readAll(await store.readUpload(id)), all);
      await commit(store, id, digestOf(all));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
      // Committed as it is, too; and a v1 upload whose bytes changed underneath is refused.
      const id2 = watch(randomUUID());
      await stageV1(id2, data);
      await commit(store, id2, digestOf(data));
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
      const id3 = watch(randomUUID());
      const other = bytes(1000, 82);
      await stageV1(id3, other);
      const path = join(dir, 'uploads', id3);
      const raw = await readFile(path);
      raw[100] = raw[100]! ^ 1;
      await writeFile(path, raw);
      await assert.rejects(commit(store, id3, digestOf(other)), /does not hash to/);
      assert.equal(await store.stat(digestOf(other)), undefined);
    });

    it('removes every object of an upload: cancel, deleteUpload, a restart, a blob already stored', async () => {
      const { dir, node } = world('discard');
      const store = node();
      const data = bytes(100_000, 90);
      const started = async (id = randomUUID()) => {
        const w = await store.writer(id, { append: true });
        await w.append(sourceOf(data));
        return w;
      };
      await (await started()).cancel();
      assert.deepEqual(await stagedFiles(dir), new Map());
      const w = await started();
      await w.close();
      await store.deleteUpload(w.uploadId);
      assert.deepEqual(await stagedFiles(dir), new Map());
      const restarted = await store.writer((await started()).uploadId, { append: false });
      assert.equal(await store.statUpload(restarted.uploadId), 0);
      await restarted.cancel();
      assert.deepEqual(await stagedFiles(dir), new Map());
      const existing = await started();
      await existing.commit(digestOf(data));
      await (await started()).commit(digestOf(data));
      assert.deepEqual(await stagedFiles(dir), new Map());
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
    });
  });
}
