/**
 * While a crowd of appends streams (CROWD_APPENDS or more at once), malloc is trimmed every
 * CROWD_TRIM_MS on a byte thread, not only once uploads go quiet (workers/quiet-memory.ts): the
 * main arena otherwise kept each step it took as pieces piled up. Fewer appends never start it.
 * Real byte threads; the crowd through the seal pool is real appends to the fs driver.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, readAll } from '../testing.js';
import { ByteThreads, type ThreadMessage } from '../workers/threads.js';
import { CROWD_APPENDS, QuietMemory } from '../workers/quiet-memory.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { SealPool } from './seal-pool.js';

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('malloc trimmed while a crowd of appends streams', () => {
  const threads = new ByteThreads({ threads: 1 });
  after(() => threads.close());

  it('trims on a byte thread while the count stays at the crowd, and stops below it', async () => {
    const quiet = new QuietMemory(threads);
    // The thread running (a trim starts it): a crowd trim never starts one.
    threads.threads[0]!.post({ kind: 'memory', op: 'trim' } as ThreadMessage);
    await until(() => quiet.trims === 1);
    let count = CROWD_APPENDS - 1;
    quiet.crowd(() => count, 20);
    assert.equal(quiet.crowdTrimming, false, 'trimming below the crowd');
    count = CROWD_APPENDS;
    quiet.crowd(() => count, 20);
    assert.equal(quiet.crowdTrimming, true);
    await until(() => quiet.trims >= 3);
    count = CROWD_APPENDS - 1;
    await until(() => !quiet.crowdTrimming);
    const trims = quiet.trims;
    // A new crowd starts it again.
    count = CROWD_APPENDS + 5;
    quiet.crowd(() => count, 20);
    await until(() => quiet.trims > trims);
    count = 0;
    await until(() => !quiet.crowdTrimming);
  });
});

describe('a crowd of real appends starts the crowd trim; fewer do not', () => {
  let root = '';
  const threads = new ByteThreads({ threads: 2 });
  const pool = new SealPool(threads);
  let store: BlobStore;
  const key = { id: randomBytes(16), key: randomBytes(32) };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-crowd-trim-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), { current: async () => key, byId: async () => key }, { sealing: pool });
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  /** `n` appends begun with a first piece each and held open; `finish()` ends and commits them all. */
  async function holdAppends(n: number, seed: number) {
    const blobs = Array.from({ length: n }, (_, i) => bytes(20_000 + i, seed + i));
    const ids = blobs.map(() => randomUUID());
    const bodies = blobs.map(() => new PassThrough());
    const writers = await Promise.all(ids.map((id) => store.writer(id, { append: true })));
    const appended = writers.map((w, i) => {
      bodies[i]!.write(blobs[i]!.subarray(0, 10_000));
      return w.append(bodies[i]!);
    });
    await until(() => pool.active === n);
    return {
      async finish() {
        for (let i = 0; i < n; i++) bodies[i]!.end(blobs[i]!.subarray(10_000));
        assert.deepEqual(
          await Promise.all(appended),
          blobs.map((b) => b.length),
        );
        await Promise.all(writers.map((w) => w.close()));
        await Promise.all(ids.map(async (id, i) => (await store.writer(id, { append: true })).commit(digestOf(blobs[i]!))));
        for (const b of blobs) assert.deepEqual(await readAll(await store.read(digestOf(b))), b);
      },
    };
  }

  it('below the crowd: no crowd trim', async () => {
    const held = await holdAppends(CROWD_APPENDS - 1, 1);
    assert.equal(pool.quietMemory.crowdTrimming, false);
    await held.finish();
  });

  it('at the crowd: trims while the appends stream, stops once they end, every byte stored', async () => {
    const held = await holdAppends(CROWD_APPENDS, 1000);
    assert.equal(pool.quietMemory.crowdTrimming, true);
    const trims = pool.quietMemory.trims;
    await until(() => pool.quietMemory.trims > trims);
    await held.finish();
    await until(() => !pool.quietMemory.crowdTrimming);
  });
});
