/**
 * Holds the encrypting wrapper to the blob-store contract on the fs and memory drivers, and
 * checks what only encryption adds: no plaintext on disk, staged or committed; legacy plaintext
 * blobs still readable; old wrapping keys still opening their blobs; key failures surfacing as
 * they are; tampering on disk surfacing as BlobIntegrityError. The staged-upload format has its
 * own tests (staged-upload.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf, digestHex, type Digest } from '../../core/digest.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { createMemoryBlobStore } from '../memory/memory-blob-store.js';
import { bytes, putBlob, readAll, sourceOf } from '../testing.js';
import { BlobIntegrityError, HEADER_SIZE, MAGIC, ciphertextSize } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

const PRESIGN = 'presignedUrl gives an http(s) URL for a stored blob';
const OPEN = 'open reads a blob at positions and refuses a missing one';
const NO_OPEN = { reason: 'the encrypted store reads its inner store by handle itself; it offers no handle on ciphertext', tests: [OPEN] };

function newKey(): WrappingKey {
  return { id: randomBytes(16), key: randomBytes(32) };
}

/** Test data, not a mock: a key ring whose current key can change and whose keys can be refused. */
class KeyRing {
  private readonly known = new Map<string, WrappingKey>();
  private readonly refused = new Map<string, Error>();
  readonly keys: WrappingKeys = {
    current: async () => this.check(this.currentKey),
    byId: async (id) => {
      const key = this.known.get(id.toString('hex'));
      if (!key) throw new Error('unknown key');
      return this.check(key);
    },
  };

  constructor(private currentKey: WrappingKey) {
    this.use(currentKey);
  }

  use(key: WrappingKey): void {
    this.known.set(key.id.toString('hex'), key);
    this.currentKey = key;
  }

  refuse(key: WrappingKey, err: Error): void {
    this.refused.set(key.id.toString('hex'), err);
  }

  private check(key: WrappingKey): WrappingKey {
    const err = this.refused.get(key.id.toString('hex'));
    if (err) throw err;
    return key;
  }
}

function keyRing(current: WrappingKey): KeyRing {
  return new KeyRing(current);
}

runBlobStoreSuite({
  name: 'encrypted over fs',
  create: async (dir) => createEncryptedBlobStore(createFsBlobStore({ root: dir }), keyRing(newKey()).keys),
  skip: [{ reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] }, NO_OPEN],
});

runBlobStoreSuite({
  name: 'encrypted over memory, 1 KiB chunks',
  create: async () => createEncryptedBlobStore(createMemoryBlobStore(), keyRing(newKey()).keys, { chunkSize: 1024 }),
  skip: [{ reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] }, NO_OPEN],
});

/** Every file under `dir` with its contents. */
async function filesUnder(dir: string): Promise<Array<{ path: string; data: Buffer }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map(async (path) => ({ path, data: await readFile(path) })));
}

function blobPath(root: string, digest: Digest): string {
  const hex = digestHex(digest);
  return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

describe('encrypted blob store', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-encrypted-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('never puts plaintext on disk, staged or committed', async () => {
    const dir = join(root, 'no-plaintext');
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keyRing(newKey()).keys, { chunkSize: 4096 });
    const marker = Buffer.from('BERTH-PLAINTEXT-MARKER-');
    const data = Buffer.concat(Array.from({ length: 10_000 }, () => marker));
    const needle = marker.subarray(0, 12);
    const assertNoMarker = async (when: string): Promise<void> => {
      const files = await filesUnder(dir);
      assert.ok(files.length > 0, `${when}: something is stored`);
      for (const f of files) assert.equal(f.data.indexOf(needle), -1, `${when}: plaintext in ${f.path}`);
    };
    const id = randomUUID();
    for (const [i, part] of [data.subarray(0, 7), data.subarray(7, 100_003), data.subarray(100_003)].entries()) {
      const w = await store.writer(id, { append: i > 0 });
      await w.append(sourceOf(part, 4099));
      await w.close();
      await assertNoMarker(`staged, part ${i}`);
    }
    assert.deepEqual(await readAll(await store.readUpload(id)), data);
    const w = await store.writer(id, { append: true });
    await w.commit(digestOf(data));
    await assertNoMarker('committed');
    const stored = await readFile(blobPath(dir, digestOf(data)));
    assert.deepEqual(stored.subarray(0, MAGIC.length), MAGIC);
    assert.equal(stored.length, ciphertextSize(data.length, 4096));
    assert.deepEqual(await store.stat(digestOf(data)), { size: data.length });
    assert.deepEqual(await readAll(await store.read(digestOf(data), { start: 4095, end: 9000 })), data.subarray(4095, 9001));
  });

  it('serves legacy plaintext blobs written before encryption as they are', async () => {
    const dir = join(root, 'legacy');
    const raw = createFsBlobStore({ root: dir });
    const store = createEncryptedBlobStore(raw, keyRing(newKey()).keys);
    for (const data of [Buffer.alloc(0), Buffer.from('tiny'), bytes(HEADER_SIZE - 1, 40), bytes(HEADER_SIZE, 41), bytes(300_000, 42)]) {
      const digest = await putBlob(raw, data);
      assert.deepEqual(await store.stat(digest), { size: data.length }, `stat of ${data.length}`);
      assert.deepEqual(await readAll(await store.read(digest)), data, `read of ${data.length}`);
      if (data.length > 2) {
        const range = { start: 1, end: data.length - 2 };
        assert.deepEqual(await readAll(await store.read(digest, range)), data.subarray(1, data.length - 1));
      }
    }
  });

  it('opens blobs sealed under an older key once another is current', async () => {
    const dir = join(root, 'rotation');
    const [a, b] = [newKey(), newKey()];
    const ring = keyRing(a);
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), ring.keys);
    const old = bytes(150_000, 50);
    const oldDigest = await putBlob(store, old);
    // An upload staged under A and finished under B.
    const id = randomUUID();
    const staged = bytes(70_000, 51);
    const w1 = await store.writer(id, { append: false });
    await w1.append(sourceOf(staged.subarray(0, 30_001)));
    await w1.close();
    ring.use(b);
    const w2 = await store.writer(id, { append: true });
    await w2.append(sourceOf(staged.subarray(30_001)));
    await w2.commit(digestOf(staged));
    const fresh = bytes(1000, 52);
    const freshDigest = await putBlob(store, fresh);

    assert.deepEqual(await readAll(await store.read(oldDigest)), old);
    assert.deepEqual(await readAll(await store.read(oldDigest, { start: 65_530, end: 70_000 })), old.subarray(65_530, 70_001));
    assert.deepEqual(await readAll(await store.read(digestOf(staged))), staged);
    const keyIdOf = async (d: Digest): Promise<Buffer> => (await readFile(blobPath(dir, d))).subarray(16, 32);
    assert.deepEqual(await keyIdOf(oldDigest), a.id);
    assert.deepEqual(await keyIdOf(digestOf(staged)), b.id, 'commit seals under the current key');
    assert.deepEqual(await keyIdOf(freshDigest), b.id);
  });

  it("rejects with the key ring's own error when a key may not be used", async () => {
    const dir = join(root, 'refused');
    const [a, b] = [newKey(), newKey()];
    const ring = keyRing(a);
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), ring.keys);
    const data = bytes(10_000, 60);
    const digest = await putBlob(store, data);
    const id = randomUUID();
    await (await store.writer(id, { append: false })).append(sourceOf(bytes(100, 61)));
    const disabled = new Error('KMS key is disabled');
    ring.refuse(a, disabled);
    await assert.rejects(store.read(digest), (e: unknown) => e === disabled);
    await assert.rejects(store.read(digest, { start: 0, end: 0 }), (e: unknown) => e === disabled);
    await assert.rejects(store.readUpload(id), (e: unknown) => e === disabled);
    await assert.rejects(store.writer(id, { append: true }), (e: unknown) => e === disabled);
    await assert.rejects(store.writer(randomUUID(), { append: false }), (e: unknown) => e === disabled);
    // A refused key leaves the staged bytes alone, and stat needs no key.
    assert.equal(await store.statUpload(id), 100);
    assert.deepEqual(await store.stat(digest), { size: data.length });
    // New blobs go under the next key; the old one stays closed.
    ring.use(b);
    const other = bytes(500, 62);
    assert.deepEqual(await readAll(await store.read(await putBlob(store, other))), other);
    await assert.rejects(store.read(digest), (e: unknown) => e === disabled);
  });

  it('fails a read of tampered bytes with BlobIntegrityError, before streaming when the first chunk is bad', async () => {
    const dir = join(root, 'tampered');
    // Streamed (no inline open: open-inline.test.ts refuses tampered small blobs before answering).
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keyRing(newKey()).keys, { chunkSize: 1024, inlineOpenBytes: 0 });
    const data = bytes(10_000, 70);
    const digest = await putBlob(store, data);
    const path = blobPath(dir, digest);
    const good = await readFile(path);
    const flip = async (at: number): Promise<void> => {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0x10;
      await writeFile(path, bad);
    };
    await flip(HEADER_SIZE + 3);
    await assert.rejects(store.read(digest), BlobIntegrityError);
    await assert.rejects(store.read(digest, { start: 0, end: 0 }), BlobIntegrityError);
    // A range that avoids the damaged chunk still reads.
    assert.deepEqual(await readAll(await store.read(digest, { start: 2048, end: 4000 })), data.subarray(2048, 4001));
    await flip(good.length - 1);
    await assert.rejects(readAll(await store.read(digest)), BlobIntegrityError);
    await flip(40);
    await assert.rejects(store.read(digest), BlobIntegrityError);
    // The last chunk holds 784 bytes + tag; leaving 10 of its bytes is no size a blob seals to.
    await writeFile(path, good.subarray(0, good.length - 790));
    await assert.rejects(store.stat(digest), BlobIntegrityError);
    await writeFile(path, good.subarray(0, good.length - 5));
    await assert.rejects(readAll(await store.read(digest)), BlobIntegrityError);
  });

  it('closes the file of every read: finished, failed, refused or abandoned midway', async () => {
    const dir = join(root, 'handles');
    // Streamed reads (an inline open holds no file past read(): open-inline.test.ts checks it closes).
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keyRing(newKey()).keys, { chunkSize: 1024, inlineOpenBytes: 0 });
    const data = bytes(50_000, 71);
    const digest = await putBlob(store, data);
    const openFiles = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(await readAll(await store.read(digest, { start: i, end: 40_000 })), data.subarray(i, 40_001));
      const abandoned = await store.read(digest);
      abandoned.destroy();
      await new Promise((resolve) => abandoned.once('close', resolve));
    }
    const good = await readFile(blobPath(dir, digest));
    const bad = Buffer.from(good);
    bad[HEADER_SIZE + 3] = bad[HEADER_SIZE + 3]! ^ 1;
    await writeFile(blobPath(dir, digest), bad);
    for (let i = 0; i < 20; i++) await assert.rejects(store.read(digest), BlobIntegrityError);
    bad[HEADER_SIZE + 3] = bad[HEADER_SIZE + 3]! ^ 1;
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    await writeFile(blobPath(dir, digest), bad);
    for (let i = 0; i < 20; i++) await assert.rejects(readAll(await store.read(digest)), BlobIntegrityError);
    assert.equal(await openFiles(), before);
  });
});
