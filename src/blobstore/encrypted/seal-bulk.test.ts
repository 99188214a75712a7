/**
 * The seal pool's bulk slots (seal-pool.ts takeBulk) under a crowd, on a real worker thread: from
 * the moment more appends run than there are bulk slots none is lent, whatever the appends' lag,
 * until appends have gone quiet, and the pages of those lent before go back at once, so a crowd
 * of slow uploads (its end included) never keeps the bulk block resident; a lone append that
 * outpaces its worker is lent them again after
 * (seal-pool.test.ts checks their bytes across their edges).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import { canTrimMalloc } from '../../core/malloc-trim.js';
import { createMemoryBlobStore } from '../memory/memory-blob-store.js';
import { appendPart as patch, bytes, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { SealPool } from './seal-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('seal pool: bulk slots and crowds', () => {
  const threads = new ByteThreads({ threads: 1 });
  after(() => threads.close());
  const BULK_SLOTS = 2;
  const pool = new SealPool(threads, { slotBytes: 5000, slots: 3, bulkBytes: 20_000, bulkSlots: BULK_SLOTS });
  const store = createEncryptedBlobStore(createMemoryBlobStore(), keys(), { chunkSize: 4096, sealing: pool });
  /** Every ask for a bulk slot: how many appends ran then, and whether one was lent. */
  const asks: Array<{ active: number; lent: boolean }> = [];
  const take = pool.takeBulk.bind(pool);
  pool.takeBulk = () => {
    const n = take();
    asks.push({ active: pool.active, lent: n !== undefined });
    return n;
  };

  /** Appends `count` uploads at once, each in pieces as fast as they are taken; checks every byte. */
  async function crowd(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const data = bytes(400_000 + i * 1777, 70 + i);
        const id = randomUUID();
        await patch(store, id, data, 3000);
        const w = await store.writer(id, { append: true });
        await w.commit(digestOf(data));
        assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `upload ${i} of ${count}`);
      }),
    );
  }

  it('lends no bulk slot from the moment more appends run than there are bulk slots until appends go quiet, and hands their pages back at once; then a lone fast append gets them', async () => {
    // A lone append first, lent bulk slots (their pages touched), then the crowd at once.
    asks.length = 0;
    await crowd(1);
    assert.ok(
      asks.some((a) => a.lent),
      'a lone append that outpaces its worker is lent bulk slots',
    );
    const quietBefore = pool.quietMemory.returns;
    const releasedBefore = pool.quietMemory.released;
    asks.length = 0;
    await crowd(BULK_SLOTS + 3);
    const inCrowd = asks.filter((a) => a.active > BULK_SLOTS);
    // The appends outpaced the worker while the crowd ran (they asked), so the test means something.
    assert.ok(inCrowd.length > 0, `the crowd's appends asked for bulk slots (asks: ${asks.length})`);
    assert.equal(inCrowd.filter((a) => a.lent).length, 0, 'no bulk slot lent while the crowd ran');
    assert.equal(pool.bulkLent, 0);
    if (canTrimMalloc()) {
      // Their pages went back once the crowd was seen (none is lent until the quiet), not at the quiet.
      await until(() => pool.quietMemory.released > releasedBefore);
      assert.equal(pool.quietMemory.returns, quietBefore, "the bulk slots' pages went back before appends went quiet");
    }

    // The crowd's last appends lag as much as the rest: none until appends went quiet.
    const quiet = pool.quietMemory.returns;
    asks.length = 0;
    await crowd(1);
    assert.ok(asks.length > 0, 'the lone append asked for bulk slots');
    assert.equal(asks.filter((a) => a.lent).length, 0, 'no bulk slot lent before appends went quiet after the crowd');
    await until(() => pool.quietMemory.returns > quiet);

    asks.length = 0;
    await crowd(1);
    assert.ok(
      asks.some((a) => a.lent),
      'a lone append that outpaces its worker is lent bulk slots once the crowd is over',
    );
    assert.equal(pool.bulkLent, 0, 'every bulk slot came back');
    assert.equal(pool.active, 0);
  });
});
