/**
 * Sealing uploads on the byte threads (seal-pool.ts, seal-task.ts), on real worker threads: the
 * blob-store contract through the pool over fs (the worker writes the chunks) and over memory
 * (sealed chunks come back); the chunk object written by the worker alone; exact bytes for
 * pieces of every size across slot and chunk edges, several appends at once; and an append whose
 * worker dies or whose write fails, which fails cleanly: files closed, the upload still what its
 * last record says, and the next append resumes it. (The one budget of slots all appends share:
 * seal-budget.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import type { BlobStore, BlobWriter } from '../blob-store.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { createMemoryBlobStore } from '../memory/memory-blob-store.js';
import { appendPart as patch, bytes, openFilesUnder, readAll, sourceOf } from '../testing.js';
import { HashPool } from '../../registry/hash-pool.js';
import { ByteThreads } from '../workers/threads.js';
import { HEADER_SIZE, TAG_SIZE } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { nativeSeal } from './native-seal.js';
import { SealPool, SealerLostError } from './seal-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

const OPEN = 'open reads a blob at positions and refuses a missing one';
const PRESIGN = 'presignedUrl gives an http(s) URL for a stored blob';
const SKIP = [
  { reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] },
  { reason: 'the encrypted store reads its inner store by handle itself; it offers no handle on ciphertext', tests: [OPEN] },
];

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

const suiteThreads = new ByteThreads({ threads: 1 });
after(() => suiteThreads.close());
runBlobStoreSuite({
  name: 'encrypted over fs, sealed (and written) on byte threads',
  create: async (dir) => createEncryptedBlobStore(createFsBlobStore({ root: dir }), keys(), { sealing: new SealPool(suiteThreads) }),
  skip: SKIP,
});
runBlobStoreSuite({
  name: 'encrypted over memory, sealed on byte threads, 1 KiB chunks',
  create: async () =>
    createEncryptedBlobStore(createMemoryBlobStore(), keys(), { chunkSize: 1024, sealing: new SealPool(suiteThreads, { slotBytes: 1500, slots: 2 }) }),
  skip: SKIP,
});

describe('seal pool', () => {
  const CHUNK = 4096;
  const threads = new ByteThreads({ threads: 2 });
  const pool = new SealPool(threads, { slotBytes: 5000, slots: 3 });
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-seal-pool-'));
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  /** The fs driver, counting the appends made from this thread to each staged object; `writerHook` may change a writer. */
  function world(name: string, writerHook?: (w: BlobWriter) => BlobWriter) {
    const dir = join(root, name);
    const fs = createFsBlobStore({ root: dir });
    const appends = new Map<string, number>();
    const inner: BlobStore = {
      ...fs,
      writer: async (id, o) => {
        const w = await fs.writer(id, o);
        const counted: BlobWriter = {
          uploadId: w.uploadId,
          get size() {
            return w.size;
          },
          append: (source, signal) => {
            appends.set(id, (appends.get(id) ?? 0) + 1);
            return w.append(source, signal);
          },
          commit: (d) => w.commit(d),
          cancel: () => w.cancel(),
          close: () => w.close(),
          ...(w.localAppend && { localAppend: w.localAppend.bind(w) }),
        };
        return writerHook ? writerHook(counted) : counted;
      },
    };
    const store = createEncryptedBlobStore(inner, keys(), { chunkSize: CHUNK, sealing: pool });
    return { dir, store, appends };
  }

  it('seals and writes the chunks on the worker: the main thread appends only the header to the chunk object', async () => {
    const { dir, store, appends } = world('worker-writes');
    const data = bytes(100_000, 1);
    const id = randomUUID();
    await patch(store, id, data.subarray(0, 33_333), 7000);
    await patch(store, id, data.subarray(33_333), 4096);
    assert.equal(appends.get(id), 1, 'one append from this thread: the header, at the start');
    const staged = (await readdir(join(dir, 'uploads'))).includes(id);
    assert.ok(staged);
    const size = (await stat(join(dir, 'uploads', id))).size;
    const whole = Math.ceil(data.length / CHUNK) - 1;
    // With the native sealer, the tail's ciphertext follows them (streamed-chunk.ts).
    const tail = nativeSeal() ? data.length - whole * CHUNK : 0;
    assert.equal(size, HEADER_SIZE + whole * (CHUNK + TAG_SIZE) + tail, 'whole chunks, written by the worker');
    const w = await store.writer(id, { append: true });
    await w.commit(digestOf(data));
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
    assert.equal(pool.active, 0);
  });

  it('gives exact bytes for pieces of every size across slot and chunk edges, many appends at once, fs and memory', async () => {
    const { store: fsStore } = world('edges');
    const memStore = createEncryptedBlobStore(createMemoryBlobStore(), keys(), { chunkSize: CHUNK, sealing: pool });
    const cases: Array<[number, number[]]> = [
      [0, [1]],
      [1, [1]],
      [CHUNK, [CHUNK]],
      [CHUNK + 1, [CHUNK]],
      [5000, [5000]],
      [15_001, [1, 4999, 5000, 5001]],
      [123_457, [333, 4096, 10_000, 65_536]],
    ];
    const runs = [fsStore, memStore].flatMap((store) =>
      cases.flatMap(([size, pieces], i) =>
        pieces.map(async (piece, j) => {
          const data = bytes(size, 100 + i * 10 + j);
          const id = randomUUID();
          // Two PATCHes when there is anything to split: the second resumes from the record.
          const cut = Math.floor(size / 3);
          await patch(store, id, data.subarray(0, cut), piece);
          await patch(store, id, data.subarray(cut), piece);
          assert.equal(await store.statUpload(id), size);
          const w = await store.writer(id, { append: true });
          await w.commit(digestOf(data));
          assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `${size} bytes in ${piece}-byte pieces`);
        }),
      ),
    );
    await Promise.all(runs);
    assert.equal(pool.active, 0);
  });

  it('a slot of a chunk posted once a byte after it has come: an upload that ends on a slot edge keeps its last chunk as the tail', async () => {
    // Slots of a chunk each (the default sizes' shape): a full slot waits for the next byte. Threads
    // of its own: a thread routes its seal replies to one pool.
    const own = new ByteThreads({ threads: 1 });
    try {
      const aligned = new SealPool(own, { slotBytes: CHUNK, slots: 3 });
      const memStore = createEncryptedBlobStore(createMemoryBlobStore(), keys(), { chunkSize: CHUNK, sealing: aligned });
      for (const [size, piece] of [
        [3 * CHUNK, CHUNK],
        [3 * CHUNK, 1000],
        [3 * CHUNK + 1, CHUNK],
        [CHUNK, CHUNK],
      ] as const) {
        const data = bytes(size, size + piece);
        const id = randomUUID();
        await patch(memStore, id, data, piece);
        assert.equal(await memStore.statUpload(id), size);
        const w = await memStore.writer(id, { append: true });
        await w.commit(digestOf(data));
        assert.deepEqual(await readAll(await memStore.read(digestOf(data))), data, `${size} bytes in ${piece}-byte pieces`);
      }
      // And at the pool itself: the chunks sealed and the tail left, for 3 chunks' worth exactly.
      const sealed: Buffer[] = [];
      const a = aligned.begin({ dataKey: randomBytes(32), chunkSize: CHUNK, index: 0, tail: Buffer.alloc(0), onSealed: (b) => sealed.push(b) });
      for (let i = 0; i < 3; i++) await a.write(bytes(CHUNK, i));
      const r = await a.end();
      assert.equal(r.chunks, 2);
      assert.equal(r.tail.length, CHUNK);
      assert.equal(Buffer.concat(sealed).length, 2 * (CHUNK + TAG_SIZE));
      assert.equal(aligned.active, 0);
    } finally {
      await own.close();
    }
  });

  it('lends an append that outpaces its worker bulk slots, fs and memory: exact bytes across their edges, every one given back', async () => {
    // Threads of its own: a second pool on the same threads would take the first one's replies.
    const bulkThreads = new ByteThreads({ threads: 1 });
    after(() => bulkThreads.close());
    const bulkPool = new SealPool(bulkThreads, { slotBytes: 5000, slots: 3, bulkBytes: 20_000, bulkSlots: 2 });
    const lent: number[] = [];
    const take = bulkPool.takeBulk.bind(bulkPool);
    bulkPool.takeBulk = () => {
      const n = take();
      if (n !== undefined) lent.push(n);
      return n;
    };
    const inners = { fs: createFsBlobStore({ root: join(root, 'bulk') }), memory: createMemoryBlobStore() };
    for (const [name, inner] of Object.entries(inners)) {
      const store = createEncryptedBlobStore(inner, keys(), { chunkSize: CHUNK, sealing: bulkPool });
      const data = bytes(1_000_003, name.length);
      const id = randomUUID();
      lent.length = 0;
      // Pieces as fast as they are taken: the slots of one turn are posted only when it ends, so
      // the fourth piece finds all three of the append's slots posted and unanswered.
      await patch(store, id, data.subarray(0, 777_777), 3000);
      assert.ok(lent.length > 0, `${name}: the append was lent bulk slots`);
      assert.ok(
        lent.every((n) => n >= bulkPool.budget),
        'bulk slots are numbered after the budget',
      );
      assert.equal(bulkPool.bulkLent, 0, `${name}: every bulk slot came back once the append ended`);
      await patch(store, id, data.subarray(777_777), 4999);
      const w = await store.writer(id, { append: true });
      await w.commit(digestOf(data));
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data, name);
    }
    assert.equal(bulkPool.active, 0);
    assert.equal(bulkPool.bulkLent, 0);
  });

  it('feeds the upload running hash in the same pass on its thread; a hash held elsewhere is fed from the main thread', async () => {
    const { store } = world('hash');
    const others = new ByteThreads({ threads: 1 });
    try {
      for (const [name, hashing] of [
        ['same threads', new HashPool({ shared: threads })],
        ['other threads', new HashPool({ shared: others })],
      ] as const) {
        const data = bytes(77_777, name.length);
        const id = randomUUID();
        const session = hashing.open('sha256');
        let fedHere = 0;
        // The session as the registry hands it over, counting what is fed from this thread.
        const hash = {
          thread: session.thread,
          id: session.id,
          update: (chunk: Uint8Array) => {
            fedHere += chunk.length;
            return session.update(chunk);
          },
        };
        for (const [from, to] of [
          [0, 30_000],
          [30_000, data.length],
        ] as const) {
          const w = await store.writer(id, { append: true });
          assert.equal(w.feedsHash, true);
          assert.equal(await w.append(sourceOf(data.subarray(from, to), 3000), undefined, hash), to - from);
          await w.close();
        }
        assert.equal(`sha256:${await session.digest()}`, digestOf(data), name);
        assert.equal(fedHere, name === 'same threads' ? 0 : data.length, `${name}: bytes hashed from the main thread`);
        const w = await store.writer(id, { append: true });
        await w.commit(digestOf(data));
      }
    } finally {
      await others.close();
    }
  });

  it('fails the appends of a worker that dies, closes their files, and the uploads resume from their last record', async () => {
    const { dir, store } = world('worker-dies');
    const first = bytes(20_000, 200);
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await patch(store, id, first);
    const before = await openFilesUnder(dir);
    const sources = ids.map(() => new PassThrough());
    const appending = ids.map(async (id, i) => {
      const w = await store.writer(id, { append: true });
      try {
        return await w.append(sources[i]!).then(
          () => undefined,
          (e: unknown) => e,
        );
      } finally {
        await w.close();
      }
    });
    // Bytes the workers sealed and wrote, then the workers go.
    for (const s of sources) s.write(bytes(30_000, 201));
    await until(async () => {
      const files = await readdir(join(dir, 'uploads'));
      const sizes = await Promise.all(ids.map(async (id) => (files.includes(id) ? (await stat(join(dir, 'uploads', id))).size : 0)));
      return pool.active === 2 && sizes.every((s) => s > HEADER_SIZE + 5 * (CHUNK + TAG_SIZE));
    });
    await Promise.all(pool.liveWorkers().map((w) => w.terminate()));
    for (const s of sources) s.end(bytes(1000, 202));
    for (const e of await Promise.all(appending)) assert.ok(e instanceof SealerLostError, `failed with ${String(e)}`);
    await until(async () => pool.active === 0 && (await openFilesUnder(dir)) === before);
    assert.equal(pool.bulkLent, 0, 'the bulk slots the dead workers held came back');
    // What the dead workers wrote is past the record: the uploads are their first PATCH.
    for (const id of ids) {
      assert.equal(await store.statUpload(id), first.length);
      const more = bytes(9000, 203);
      await patch(store, id, more, 1000);
      const all = Buffer.concat([first, more]);
      assert.deepEqual(await readAll(await store.readUpload(id)), all);
      const w = await store.writer(id, { append: true });
      await w.commit(digestOf(all));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
    }
  });

  it('fails an append whose write fails in the worker, with the error code, and the upload stays what its record says', async () => {
    // Fault injection: the staged file handed to the worker is open read-only, so its write fails (EBADF).
    let broken = true;
    const { dir, store } = world('write-fails', (w) => ({
      ...w,
      get size() {
        return w.size;
      },
      localAppend: async () => {
        const real = await w.localAppend!();
        if (!broken) return real;
        await real.done();
        const ro = await open(join(dir, 'uploads', w.uploadId), 'r');
        const done = async (): Promise<number> => {
          await ro.close();
          return 0;
        };
        return { fd: ro.fd, position: real.position, done };
      },
    }));
    const first = bytes(10_000, 300);
    const id = randomUUID();
    broken = false;
    await patch(store, id, first);
    broken = true;
    const w = await store.writer(id, { append: true });
    await assert.rejects(w.append(sourceOf(bytes(50_000, 301))), (e: Error & { code?: string }) => e.code === 'EBADF');
    await w.close();
    assert.equal(pool.active, 0);
    assert.equal(await store.statUpload(id), first.length);
    broken = false;
    const more = bytes(7000, 302);
    await patch(store, id, more);
    const all = Buffer.concat([first, more]);
    const c = await store.writer(id, { append: true });
    await c.commit(digestOf(all));
    assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
  });
});
