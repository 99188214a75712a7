/**
 * Holds the encrypting wrapper to the blob-store contract on the fs and memory drivers, and
 * checks what only encryption adds: no plaintext on disk, staged or committed; legacy plaintext
 * blobs still readable; old wrapping keys still opening their blobs; key failures surfacing as
 * they are; tampering on disk surfacing as BlobIntegrityError; uploads sealed as they arrive
 * committing without a re-read, and falling back to one whenever that seal is not in step.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf, digestHex, type Digest } from '../../core/digest.js';
import type { BlobStore, BlobWriter } from '../blob-store.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { createMemoryBlobStore } from '../memory/memory-blob-store.js';
import { bytes, putBlob, readAll, sourceOf } from '../testing.js';
import { BlobIntegrityError, HEADER_SIZE, MAGIC, ciphertextSize } from './chunk-format.js';
import { createEncryptedBlobStore, type EncryptedBlobStoreOptions } from './encrypted-blob-store.js';
import type { WrappingKey, WrappingKeys } from './wrapping-keys.js';

const PRESIGN = 'presignedUrl gives an http(s) URL for a stored blob';

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
  skip: [{ reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] }],
});

runBlobStoreSuite({
  name: 'encrypted over memory, 1 KiB chunks',
  create: async () => createEncryptedBlobStore(createMemoryBlobStore(), keyRing(newKey()).keys, { chunkSize: 1024 }),
  skip: [{ reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] }],
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

  it('rejects with the key ring\'s own error when a key may not be used', async () => {
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
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keyRing(newKey()).keys, { chunkSize: 1024 });
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

  it('refuses a commit that re-reads staged ciphertext changed underneath; a live seal never reads it', async () => {
    const dir = join(root, 'staged-tamper');
    const ring = keyRing(newKey());
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), ring.keys);
    // Another node over the same directory has no live seal of the upload, so it re-reads it.
    const other = createEncryptedBlobStore(createFsBlobStore({ root: dir }), ring.keys);
    const data = bytes(5000, 80);
    const id = randomUUID();
    const w = await store.writer(id, { append: false });
    await w.append(sourceOf(data));
    const stagedPath = join(dir, 'uploads', id);
    const staged = await readFile(stagedPath);
    staged[100] = staged[100]! ^ 1;
    await writeFile(stagedPath, staged);
    await assert.rejects((await other.writer(id, { append: true })).commit(digestOf(data)), /does not hash to/);
    assert.equal(await store.stat(digestOf(data)), undefined);
    assert.deepEqual((await readdir(join(dir, 'uploads'))).sort(), [id], 'the sealed copy was cancelled');
    // The live seal holds the bytes as they were appended, which the registry hashed on the way.
    await w.commit(digestOf(data));
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
  });
});

/** Test scaffolding, not a mock: a store that counts readUpload calls, to see whether a commit re-read an upload. */
type Counting = BlobStore & { reads: number };

function counting(inner: BlobStore): Counting {
  const c: Counting = {
    ...inner,
    reads: 0,
    readUpload: async (id, signal) => {
      c.reads++;
      return inner.readUpload(id, signal);
    },
  };
  return c;
}

async function uploadsOf(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'uploads')).catch(() => [])).sort();
}

describe('encrypted blob store: sealing as bytes arrive', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-live-seal-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** `node()` makes another node: a store instance of its own over the one shared directory. */
  function cluster(name: string, opts: EncryptedBlobStoreOptions = {}): { dir: string; inner: Counting; node: () => BlobStore } {
    const dir = join(root, name);
    const inner = counting(createFsBlobStore({ root: dir }));
    const ring = keyRing(newKey());
    return { dir, inner, node: () => createEncryptedBlobStore(inner, ring.keys, { chunkSize: 4096, ...opts }) };
  }

  /** Appends `parts` as PATCHes would, through a writer each on the node given with it. */
  async function patch(id: string, parts: Array<[BlobStore, Buffer]>): Promise<void> {
    for (const [store, part] of parts) {
      const w = await store.writer(id, { append: true });
      assert.equal(await w.append(sourceOf(part, 3000)), part.length);
      await w.close();
    }
  }

  /** Commits on a fresh writer, as the final PUT does; resolves with the readUpload calls it made. */
  async function finalPut(store: BlobStore, inner: Counting, id: string, digest: Digest): Promise<number> {
    const w = await store.writer(id, { append: true });
    inner.reads = 0;
    await w.commit(digest);
    return inner.reads;
  }

  it('commits one PATCH and an empty PUT (two writers) without re-reading the upload', async () => {
    const { dir, inner, node } = cluster('one-patch');
    const store = node();
    for (const [i, size] of [1, 4095, 4096, 8192, 300_001].entries()) {
      const data = bytes(size, 90 + i);
      const id = randomUUID();
      await patch(id, [[store, data]]);
      if (size > 4096) assert.deepEqual((await uploadsOf(dir)).length, 2, 'the staged upload and its live seal');
      assert.equal(await finalPut(store, inner, id, digestOf(data)), 0, `no re-read (${size} bytes)`);
      assert.deepEqual(await uploadsOf(dir), []);
      assert.equal((await readFile(blobPath(dir, digestOf(data)))).length, ciphertextSize(size, 4096));
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
      const range = { start: Math.floor(size / 3), end: size - 1 };
      assert.deepEqual(await readAll(await store.read(digestOf(data), range)), data.subarray(range.start));
    }
    // Several PATCHes in step, and a monolithic PUT (one writer appends and commits), too.
    const parts = [bytes(10_000, 97), bytes(1, 98), bytes(70_000, 99)];
    const id = randomUUID();
    await patch(id, parts.map((p) => [store, p]));
    assert.equal(await finalPut(store, inner, id, digestOf(Buffer.concat(parts))), 0);
    assert.deepEqual(await readAll(await store.read(digestOf(Buffer.concat(parts)))), Buffer.concat(parts));
    const mono = bytes(50_000, 100);
    const w = await store.writer(randomUUID(), { append: true });
    await w.append(sourceOf(mono));
    inner.reads = 0;
    await w.commit(digestOf(mono));
    assert.equal(inner.reads, 0);
    assert.deepEqual(await readAll(await store.read(digestOf(mono))), mono);
  });

  it('commits an empty blob through the live seal', async () => {
    const { dir, inner, node } = cluster('empty');
    const store = node();
    const id = randomUUID();
    await patch(id, [[store, Buffer.alloc(0)]]);
    assert.equal(await finalPut(store, inner, id, digestOf('')), 0);
    assert.deepEqual(await store.stat(digestOf('')), { size: 0 });
    assert.equal((await readFile(blobPath(dir, digestOf('')))).length, ciphertextSize(0, 4096));
    assert.equal((await readAll(await store.read(digestOf('')))).length, 0);
    assert.deepEqual(await uploadsOf(dir), []);
  });

  it('falls back to re-reading an upload resumed on another node', async () => {
    const { dir, inner, node } = cluster('resumed');
    const [a, b] = [node(), node()];
    const data = bytes(100_000, 101);
    const id = randomUUID();
    await patch(id, [[a, data.subarray(0, 60_000)], [b, data.subarray(60_000)]]);
    assert.equal(await finalPut(b, inner, id, digestOf(data)), 1);
    assert.deepEqual(await readAll(await a.read(digestOf(data))), data);
    // Also when the other node only commits what the first staged.
    const again = bytes(30_000, 102);
    const id2 = randomUUID();
    await patch(id2, [[a, again]]);
    assert.equal(await finalPut(b, inner, id2, digestOf(again)), 1);
    assert.deepEqual(await readAll(await a.read(digestOf(again))), again);
    // Node a never hears of those commits: its shadows wait for the garbage collector (no session names them).
    assert.equal((await uploadsOf(dir)).length, 2);
  });

  it('abandons the live seal when another node appends in between, and still commits the right bytes', async () => {
    const { dir, inner, node } = cluster('out-of-step');
    const [a, b] = [node(), node()];
    const parts = [bytes(50_000, 103), bytes(20_000, 104), bytes(30_000, 105)];
    const id = randomUUID();
    await patch(id, [[a, parts[0]!], [b, parts[1]!], [a, parts[2]!]]);
    assert.deepEqual(await uploadsOf(dir), [id], 'a dropped its seal on finding bytes it had not seen');
    const all = Buffer.concat(parts);
    assert.equal(await finalPut(a, inner, id, digestOf(all)), 1);
    assert.deepEqual(await readAll(await a.read(digestOf(all))), all);
    assert.deepEqual(await uploadsOf(dir), []);
    // Committed on the first node straight after the other appended: the sizes differ, so it re-reads.
    const id2 = randomUUID();
    await patch(id2, [[a, parts[2]!], [b, parts[0]!]]);
    const both = Buffer.concat([parts[2]!, parts[0]!]);
    assert.equal(await finalPut(a, inner, id2, digestOf(both)), 1);
    assert.deepEqual(await readAll(await b.read(digestOf(both))), both);
    assert.deepEqual(await uploadsOf(dir), []);
  });

  it('removes the live seal with the upload: cancel, deleteUpload, a restart, a blob already stored', async () => {
    const { dir, node } = cluster('discard');
    const store = node();
    const data = bytes(100_000, 106);
    const started = async (): Promise<BlobWriter> => {
      const w = await store.writer(randomUUID(), { append: true });
      await w.append(sourceOf(data));
      assert.equal((await uploadsOf(dir)).length, 2, 'the staged upload and its live seal');
      return w;
    };
    await (await started()).cancel();
    assert.deepEqual(await uploadsOf(dir), []);
    const w = await started();
    await w.close();
    await store.deleteUpload(w.uploadId);
    assert.deepEqual(await uploadsOf(dir), []);
    const restarted = await store.writer((await started()).uploadId, { append: false });
    assert.deepEqual(await uploadsOf(dir), [restarted.uploadId]);
    await restarted.cancel();
    const digest = await putBlob(store, data);
    await (await started()).commit(digest);
    assert.deepEqual(await uploadsOf(dir), []);
    assert.deepEqual(await readAll(await store.read(digest)), data);
  });

  it('carries on without the live seal when its shadow upload cannot be opened or written', async () => {
    for (const fail of ['open', 'append'] as const) {
      const dir = join(root, `shadow-${fail}`);
      const fs = createFsBlobStore({ root: dir });
      // The first upload opened after the staged one is the live seal's shadow; later ones work.
      const staged = new Set<string>();
      let shadow: string | undefined;
      const broken = counting({
        ...fs,
        async writer(id, opts) {
          if (!staged.has(id)) shadow ??= id;
          if (id === shadow && fail === 'open') throw new Error('disk full');
          const w = await fs.writer(id, opts);
          if (id !== shadow) return w;
          const append = async (source: Readable): Promise<number> => {
            source.destroy();
            throw new Error('disk full');
          };
          return { uploadId: id, get size() { return w.size; }, append, commit: w.commit, cancel: w.cancel, close: w.close };
        },
      });
      const store = createEncryptedBlobStore(broken, keyRing(newKey()).keys, { chunkSize: 4096 });
      const data = bytes(200_000, fail === 'open' ? 107 : 108);
      const id = randomUUID();
      staged.add(id);
      await patch(id, [[store, data]]);
      assert.equal(await store.statUpload(id), data.length);
      assert.deepEqual(await readAll(await store.readUpload(id)), data);
      assert.equal(await finalPut(store, broken, id, digestOf(data)), 1, `${fail}: re-read`);
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
      assert.ok(shadow !== undefined, 'a live seal was tried');
      assert.deepEqual(await uploadsOf(dir), []);
    }
  });

  it('keeps at most maxLiveSeals, abandoning the least recently appended to', async () => {
    const { dir, inner, node } = cluster('cap', { maxLiveSeals: 2 });
    const store = node();
    const data = [bytes(20_000, 109), bytes(20_000, 110), bytes(20_000, 111)];
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await patch(ids[0]!, [[store, data[0]!.subarray(0, 10_000)]]);
    await patch(ids[1]!, [[store, data[1]!]]);
    await patch(ids[0]!, [[store, data[0]!.subarray(10_000)]]);
    await patch(ids[2]!, [[store, data[2]!]]);
    assert.equal(await finalPut(store, inner, ids[1]!, digestOf(data[1]!)), 1, 'evicted');
    assert.equal(await finalPut(store, inner, ids[0]!, digestOf(data[0]!)), 0);
    assert.equal(await finalPut(store, inner, ids[2]!, digestOf(data[2]!)), 0);
    for (const d of data) assert.deepEqual(await readAll(await store.read(digestOf(d))), d);
    assert.deepEqual(await uploadsOf(dir), []);
  });
});
