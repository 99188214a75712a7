/**
 * The pages of the seal pool's free slots go back on a byte thread, not on the event loop
 * (seal-slots.ts, workers/quiet-memory.ts): the slots being released are lent to no one until the
 * thread answers, are lent again after, with memory that works, and a thread that dies first gives
 * them back. Real byte threads and the pool itself; what the main thread sees is read at the
 * quiet spell, in the same turn as the pool's hand-back (a listener registered after the pool's),
 * before any answer of the thread can come.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { canTrimMalloc } from '../../core/malloc-trim.js';
import { bytes } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { nodeSealed } from './native-seal.js';
import { IDLE_SLOTS, SealPool } from './seal-pool.js';

const SLOT = 64 * 1024;
/** The budget's slots: two per append of a crowd of CROWD. */
const SLOTS = 32;
const CROWD = SLOTS / 2;
const RELEASED = SLOTS - IDLE_SLOTS;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

function world() {
  const threads = new ByteThreads({ threads: 1 });
  const pool = new SealPool(threads, { slotBytes: SLOT, slots: 2, budgetBytes: SLOTS * SLOT, bulkSlots: 0 });
  return { threads, pool };
}

/** An append given two slots' worth of plaintext at once: it takes both slots now, where they are to be had. */
function twoSlots(pool: SealPool, seed: number) {
  const key = randomBytes(32);
  const sealed: Buffer[] = [];
  const a = pool.begin({ dataKey: key, chunkSize: SLOT, index: 0, tail: Buffer.alloc(0), onSealed: (b) => sealed.push(b) });
  const data = bytes(2 * SLOT, seed);
  const wrote = a.write(data);
  return { a, key, sealed, data, wrote };
}

/** Ends the append and checks what the thread sealed from its slots: the first chunk, and the second as the tail. */
async function sealedRight(u: ReturnType<typeof twoSlots>, what: string): Promise<void> {
  await u.wrote;
  const r = await u.a.end();
  assert.equal(r.chunks, 1, what);
  assert.deepEqual(Buffer.concat(u.sealed), nodeSealed(u.key, 0, false, u.data.subarray(0, SLOT)), what);
  assert.deepEqual(r.tail, u.data.subarray(SLOT), what);
}

/** Every slot of the budget written and given back: all free, all resident. */
async function crowd(pool: SealPool, seed: number): Promise<void> {
  const all = Array.from({ length: CROWD }, (_, i) => twoSlots(pool, seed + i));
  assert.equal(pool.waiting, 0, 'the crowd found every slot free');
  await Promise.all(all.map((u, i) => sealedRight(u, `crowd append ${i}`)));
  await until(() => pool.active === 0);
  assert.equal(pool.slabCount, SLOTS);
}

const skip = canTrimMalloc() ? undefined : 'the malloc-trim addon is not built here (no compiler, or not glibc): no page is handed back, the block is dropped';

describe('seal slots released on a byte thread', () => {
  it('lends no slot being released before the thread answers; after, the slots are lent again and their memory works', { skip }, async () => {
    const { threads, pool } = world();
    try {
      await crowd(pool, 1);
      let seen: { releasing: number; waiting: number; late: ReturnType<typeof twoSlots>[] } | undefined;
      pool.quietMemory.onQuiet(() => {
        if (seen) return; // the first quiet spell only
        const releasing = pool.releasing;
        // Five appends of two slots: the kept slots serve four; the fifth finds only slots being released.
        const late = Array.from({ length: 5 }, (_, i) => twoSlots(pool, 100 + i));
        seen = { releasing, waiting: pool.waiting, late };
      });
      await until(() => seen !== undefined);
      assert.equal(seen!.releasing, RELEASED, 'the free slots beyond the kept ones went to the thread');
      assert.equal(seen!.waiting, 1, 'an append waited rather than take a slot being released');
      await Promise.all(seen!.late.map((u, i) => sealedRight(u, `late append ${i}`)));
      await until(() => pool.releasing === 0 && pool.active === 0);
      assert.equal(pool.waiting, 0);
      // Every slot lent at once again (the released ones among them), written and sealed right.
      const resident = pool.residentBytes()!;
      await crowd(pool, 200);
      assert.ok(pool.residentBytes()! >= resident + (RELEASED - 4) * SLOT, `pages faulted in again: ${resident} → ${pool.residentBytes()}`);
    } finally {
      await threads.close();
    }
  });

  it('leaves the pages alone on the event loop: they go back only once the thread answers, by what it says it released', { skip }, async () => {
    const { threads, pool } = world();
    try {
      await crowd(pool, 300);
      const all = pool.residentBytes()!;
      // The last append has ended: the pages are all still there (they went back here, at once, before).
      assert.ok(all >= SLOTS * SLOT - 4096, `resident after the crowd: ${all}`);
      let atQuiet: { resident: number; releasing: number; reported: number } | undefined;
      pool.quietMemory.onQuiet(() => {
        if (atQuiet) return;
        atQuiet = { resident: pool.residentBytes()!, releasing: pool.releasing, reported: pool.quietMemory.released };
      });
      await until(() => atQuiet !== undefined && pool.releasing === 0);
      assert.equal(atQuiet!.resident, all, 'nothing was handed back in the turn that hands back');
      assert.equal(atQuiet!.releasing, RELEASED);
      const after = pool.residentBytes()!;
      const reported = pool.quietMemory.released - atQuiet!.reported;
      assert.ok(after <= IDLE_SLOTS * (SLOT + 4096), `resident once released: ${after}`);
      assert.equal(all - after, reported, 'what went back is what the thread said it released');
      assert.equal(pool.slabCount, IDLE_SLOTS);
    } finally {
      await threads.close();
    }
  });

  it('gives the slots back, not released, when the thread dies before it answers; they are lent again', { skip }, async () => {
    const { threads, pool } = world();
    try {
      await crowd(pool, 400);
      const all = pool.residentBytes();
      let atQuiet: number | undefined;
      pool.quietMemory.onQuiet(() => {
        if (atQuiet !== undefined) return;
        atQuiet = pool.releasing;
        // The release is posted at the end of this turn: the thread is stopped before it reads it.
        void threads.liveWorkers()[0]!.terminate();
      });
      await until(() => atQuiet !== undefined && pool.releasing === 0);
      assert.equal(atQuiet, RELEASED);
      assert.equal(threads.liveWorkers().length, 0, 'the thread is gone');
      assert.equal(pool.slabCount, SLOTS, 'every slot counted as holding memory again');
      assert.equal(pool.residentBytes(), all, 'none of their pages went back');
      // All of them lendable at once (the pool starts a new thread for the appends).
      await crowd(pool, 500);
    } finally {
      await threads.close();
    }
  });
});
