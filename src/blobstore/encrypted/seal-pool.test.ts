/**
 * Sealing uploads on the byte threads (seal-pool.ts, seal-task.ts), on real worker threads: the
 * blob-store contract through the pool over fs (the worker writes the chunks) and over memory
 * (sealed chunks come back); the chunk object written by the worker alone; exact bytes for
 * pieces of every size across slot and chunk edges, several appends at once; and an append whose
 * worker dies or whose write fails, which fails cleanly: files closed, the upload still what its
 * last record says, and the next append resumes it.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
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
import { canTrimMalloc } from '../../core/malloc-trim.js';
import { IDLE_SLOTS, SealPool, SealerLostError } from './seal-pool.js';
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
    assert.equal(size, HEADER_SIZE + (Math.ceil(data.length / CHUNK) - 1) * (CHUNK + TAG_SIZE), 'whole chunks, written by the worker');
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

describe('seal pool: one budget of slots for all appends', () => {
  const CHUNK = 4096;
  const SLOT = 4096;
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-seal-budget-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** An append of a new upload from a client that sends `first` and then nothing (until `source` ends). */
  async function hungClient(store: BlobStore, first: Buffer): Promise<{ id: string; source: PassThrough; settled: Promise<unknown> }> {
    const id = randomUUID();
    const source = new PassThrough();
    const w = await store.writer(id, { append: true });
    const settled = w.append(source).then(
      () => w.close(),
      () => w.close(),
    );
    source.write(first);
    return { id, source, settled };
  }

  it('runs many more appends than the budget holds at once, every one byte-exact, never more slots than the budget', async () => {
    const threads = new ByteThreads({ threads: 2 });
    const pool = new SealPool(threads, { slotBytes: SLOT, slots: 2, budgetBytes: 3 * SLOT });
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'crowd') }), keys(), { chunkSize: CHUNK, sealing: pool });
      let most = 0;
      let waited = 0;
      let running = true;
      const watch = (async () => {
        while (running) {
          most = Math.max(most, pool.slabCount);
          waited = Math.max(waited, pool.waiting);
          await new Promise((r) => setImmediate(r));
        }
      })();
      const runs = Array.from({ length: 24 }, async (_, i) => {
        const data = bytes(20_000 + i * 1777, 400 + i);
        const id = randomUUID();
        await patch(store, id, data.subarray(0, 9000), 1000 + i * 300);
        await patch(store, id, data.subarray(9000), 700 + i * 500);
        const w = await store.writer(id, { append: true });
        await w.commit(digestOf(data));
        assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `upload ${i}`);
      });
      await Promise.all(runs);
      running = false;
      await watch;
      assert.equal(pool.budget, 3);
      assert.ok(most <= 3, `at most 3 slots existed (saw ${most})`);
      assert.ok(waited > 0, 'appends waited for a slot');
      assert.equal(pool.active, 0);
      assert.equal(pool.waiting, 0);
    } finally {
      await threads.close();
    }
  });

  it('under a crowd larger than the budget, a request body reads its next piece only once there is a slot for it', async () => {
    // Request bodies (they have `complete`, as IncomingMessage does), each with its bytes ready in
    // its "socket": a piece is read (pushed) only when the body has none buffered, as a held
    // socket does (http/body-socket-hold.ts), whenever the body flows. An append that posts its slot
    // because others wait reserves its next slot before reading on (SealAppend.reserve), so a
    // piece waits for a slot in this process only when it came before any pressure.
    const threads = new ByteThreads({ threads: 1 });
    const pool = new SealPool(threads, { slotBytes: SLOT, slots: 2, budgetBytes: 2 * SLOT, bulkSlots: 0 });
    const crowd = 12;
    const pieces = 24;
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'reserve') }), keys(), { chunkSize: CHUNK, sealing: pool });
      const body = (data: Buffer): Readable & { complete: boolean } => {
        let at = 0;
        const r: Readable & { complete: boolean } = Object.assign(
          new Readable({
            highWaterMark: 1,
            read() {
              // In a later turn of the loop, as a socket's next read comes.
              setImmediate(() => {
                if (at >= data.length) {
                  r.complete = true;
                  this.push(null);
                  return;
                }
                const piece = data.subarray(at, at + SLOT / 2);
                at += piece.length;
                this.push(piece);
              });
            },
          }),
          { complete: false },
        );
        return r;
      };
      const runs = Array.from({ length: crowd }, async (_, i) => {
        const data = bytes(pieces * (SLOT / 2), 500 + i);
        const id = randomUUID();
        const w = await store.writer(id, { append: true });
        await w.append(body(data));
        await w.commit(digestOf(data));
        assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `upload ${i}`);
      });
      await Promise.all(runs);
      assert.equal(pool.active, 0);
      assert.equal(pool.waiting, 0);
      // Only each append's first piece came before it saw any pressure (measured: 12 of 288;
      // without the reservation 284).
      assert.ok(pool.piecesQueued <= 2 * crowd, `${pool.piecesQueued} of ${crowd * pieces} pieces waited for a slot in this process`);
    } finally {
      await threads.close();
    }
  });

  it('a newcomer is lent the slot a flush takes back from an append that reserved it and got no piece', async () => {
    // The budget's one slot is held, empty, by an append that reserved it for a piece that has not
    // come (SealAppend.reserve). A newcomer's take() flushes it: the slot must go to the newcomer,
    // not to a queue the newcomer joined but has not started waiting in (it then waited for good).
    const threads = new ByteThreads({ threads: 1 });
    const pool = new SealPool(threads, { slotBytes: SLOT, slots: 4, budgetBytes: SLOT, bulkSlots: 0 });
    const start = () => pool.begin({ dataKey: randomBytes(32), chunkSize: CHUNK, index: 0, tail: Buffer.alloc(0), onSealed: () => undefined });
    const piece = bytes(1000, 77);
    try {
      const [a, b, c] = [start(), start(), start()];
      assert.equal(a.write(piece), undefined, 'a takes the only slot');
      const bWaits = b.write(piece);
      const cWaits = c.write(piece);
      assert.ok(bWaits && cWaits, 'b and c queue for it');
      await bWaits;
      // b posted its slot at once (c waits): its next piece would find none, so it reserves one.
      const bReserves = b.reserve();
      assert.ok(bReserves, 'b reserves its next slot');
      await cWaits;
      await bReserves;
      assert.equal(pool.waiting, 0);
      // A whole turn of the loop passes with no piece for b.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      const d = start();
      const dWaits = d.write(piece);
      dWaits?.catch(() => undefined);
      assert.equal(dWaits, undefined, "d is lent the slot b's flush gave back");
      for (const x of [a, b, c, d]) await x.end();
      assert.equal(pool.active, 0);
    } finally {
      await threads.close();
    }
  });

  it('an append waiting for a slot whose client hangs up leaves the queue; the others go on', async () => {
    const threads = new ByteThreads({ threads: 1 });
    const pool = new SealPool(threads, { slotBytes: SLOT, slots: 1, budgetBytes: SLOT });
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'hang-up') }), keys(), { chunkSize: CHUNK, sealing: pool });
      const first = bytes(6000, 3);
      const id = randomUUID();
      await patch(store, id, first);
      // A client holds the only slot, half full.
      const hung = await hungClient(store, bytes(100, 4));
      await until(() => pool.slabCount === 1);
      // Another client's piece must wait for it; the client hangs up before the slot comes back
      // (the worker answers in a later turn of the event loop, these ticks run before it).
      let waitingAtHangUp = -1;
      let sent = false;
      const source = new Readable({
        read() {
          if (sent) return;
          sent = true;
          this.push(bytes(5000, 5));
          process.nextTick(() =>
            process.nextTick(() => {
              waitingAtHangUp = pool.waiting;
              this.destroy(new Error('client went away'));
            }),
          );
        },
      });
      const w = await store.writer(id, { append: true });
      const e = await w.append(source).then(
        () => undefined,
        (err: unknown) => err,
      );
      await w.close();
      assert.equal(waitingAtHangUp, 1, 'the piece was waiting for a slot when its client went');
      assert.ok(e instanceof Error && /client went away/.test(e.message), `failed with ${String(e)}`);
      assert.equal(pool.waiting, 0, 'it left the queue');
      // Nothing of the waiting piece was stored: the upload is its first PATCH, and resumes.
      assert.equal(await store.statUpload(id), first.length);
      const more = bytes(9000, 6);
      await patch(store, id, more, 1000);
      const all = Buffer.concat([first, more]);
      const c = await store.writer(id, { append: true });
      await c.commit(digestOf(all));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
      hung.source.end();
      await hung.settled;
      assert.equal(await store.statUpload(hung.id), 100);
      assert.equal(pool.active, 0);
    } finally {
      await threads.close();
    }
  });

  it('a hung client does not keep a slot from the others, and slots beyond a few are dropped once the crowd is gone', async () => {
    const threads = new ByteThreads({ threads: 1 });
    const pool = new SealPool(threads, { slotBytes: SLOT, slots: 2, budgetBytes: 14 * SLOT });
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'crowd-ends') }), keys(), { chunkSize: CHUNK, sealing: pool });
      // Fourteen clients send a little each and then nothing: each holds a slot it is filling,
      // the whole budget.
      const hung = await Promise.all(Array.from({ length: 14 }, (_, i) => hungClient(store, bytes(100, 10 + i))));
      await until(() => pool.slabCount === 14);
      assert.ok(pool.slabCount > IDLE_SLOTS);
      // A newcomer finds no slot; the hung clients' half-full slots are posted and come back.
      const data = bytes(60_000, 7);
      const id = randomUUID();
      await patch(store, id, data, 3000);
      assert.equal(await store.statUpload(id), data.length);
      assert.ok(pool.slabCount <= pool.budget);
      const spells = pool.quietMemory.returns;
      for (const h of hung) h.source.end();
      await Promise.all(hung.map((h) => h.settled));
      for (const h of hung) assert.equal(await store.statUpload(h.id), 100);
      // Handed back once the appends have been quiet a while, by a byte thread (seal-release.test.ts).
      await until(() => pool.active === 0 && pool.quietMemory.returns > spells && pool.releasing === 0);
      assert.ok(pool.slabCount <= IDLE_SLOTS, `slots kept after the crowd: ${pool.slabCount}`);
      const w = await store.writer(id, { append: true });
      await w.commit(digestOf(data));
      assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
    } finally {
      await threads.close();
    }
  });

  it('with the default sizes, 200 slow clients each hold a slot of their own: none waits, none is made to post early, and the slots hold about what they sent', async () => {
    // The bench's crowd (200 uploads at 1 MB/s): each fills the slot it holds slowly. A budget of
    // fewer slots than the crowd queues the newcomers and has every other append post its slot
    // after each piece (a message per socket read); a slot larger than a chunk is memory a slow
    // upload keeps resident once it has filled it (notes/2026-12-05-s15-slots.md).
    const threads = new ByteThreads({ threads: 2 });
    const pool = new SealPool(threads);
    const crowd = 200;
    const sent = 60_000;
    let running = true;
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'defaults') }), keys(), { sealing: pool });
      let waited = 0;
      const watch = (async () => {
        while (running) {
          waited = Math.max(waited, pool.waiting);
          await new Promise((r) => setImmediate(r));
        }
      })();
      const hung = await Promise.all(Array.from({ length: crowd }, (_, i) => hungClient(store, bytes(sent, 1000 + i))));
      await until(() => pool.active === crowd && pool.waiting === 0 && pool.slabCount >= Math.min(crowd, pool.budget));
      running = false;
      await watch;
      assert.ok(pool.budget >= crowd, `budget of ${pool.budget} slots for a crowd of ${crowd}`);
      // Only a newcomer that finds no slot makes the others post early (SealPool.take).
      assert.equal(waited, 0, 'an append waited for a slot');
      assert.equal(pool.slabCount, crowd, 'one slot per client');
      const resident = pool.residentBytes();
      if (resident !== undefined) assert.ok(resident <= crowd * (sent + 2 * 4096), `slots resident: ${resident} bytes for ${crowd} × ${sent} sent`);
      for (const h of hung) h.source.end();
      await Promise.all(hung.map((h) => h.settled));
      for (const h of hung.slice(0, 5)) assert.equal(await store.statUpload(h.id), sent);
      assert.equal(pool.active, 0);
    } finally {
      running = false;
      await threads.close();
    }
  });

  it("the budget's memory is resident only while a crowd uses it: the free slots' pages go back once it is gone", {
    skip: canTrimMalloc() ? undefined : 'the malloc-trim addon is not built here (no compiler, or not glibc)',
  }, async () => {
    const threads = new ByteThreads({ threads: 2 });
    const slotBytes = 64 * 1024;
    const pool = new SealPool(threads, { slotBytes, slots: 2, budgetBytes: 32 * slotBytes });
    try {
      const store = createEncryptedBlobStore(createFsBlobStore({ root: join(root, 'pages') }), keys(), { chunkSize: 16 * 1024, sealing: pool });
      assert.equal(pool.residentBytes(), 0, 'no memory before the first append');
      let most = 0;
      let running = true;
      const watch = (async () => {
        while (running) {
          most = Math.max(most, pool.residentBytes()!);
          await new Promise((r) => setImmediate(r));
        }
      })();
      // 24 appends of whole slots at once: every slot of the budget is filled.
      const spells = pool.quietMemory.returns;
      await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const data = bytes(6 * slotBytes + i, 50 + i);
          const id = randomUUID();
          await patch(store, id, data, slotBytes);
          const w = await store.writer(id, { append: true });
          await w.commit(digestOf(data));
          assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `upload ${i}`);
        }),
      );
      running = false;
      await watch;
      assert.ok(most > 24 * slotBytes, `resident at most ${most} bytes during the crowd`);
      await until(() => pool.active === 0 && pool.quietMemory.returns > spells && pool.releasing === 0);
      // Kept: the few most recently freed slots, each over at most one page more than its size.
      const kept = pool.residentBytes()!;
      assert.ok(kept <= IDLE_SLOTS * (slotBytes + 4096), `resident after the crowd: ${kept} bytes`);
      assert.ok(pool.slabCount <= IDLE_SLOTS);
      // The slots whose pages went back are used again, and read right.
      const again = bytes(5 * slotBytes, 99);
      const id = randomUUID();
      await patch(store, id, again, 3 * slotBytes);
      const w = await store.writer(id, { append: true });
      await w.commit(digestOf(again));
      assert.deepEqual(await readAll(await store.read(digestOf(again))), again);
    } finally {
      await threads.close();
    }
  });
});
