/**
 * One budget of seal slots shared by every append (seal-pool.ts), on real worker threads: many
 * more appends than the budget holds, every one byte-exact and never more slots than the budget;
 * a request body that reads on only once it has a slot; a slot lent on, a hung client that leaves
 * the queue or keeps no slot from the others; and the free slots' memory given back once a crowd
 * is gone. (The pool's sealing itself: seal-pool.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { appendPart as patch, bytes, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { canTrimMalloc } from '../../core/malloc-trim.js';
import { IDLE_SLOTS, SealPool } from './seal-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

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
