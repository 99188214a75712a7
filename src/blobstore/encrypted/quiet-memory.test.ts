/**
 * Once appends stop, memory is handed back (workers/quiet-memory.ts): every byte thread that runs
 * collects its heap and trims malloc, once per quiet spell, and a thread that is not running is
 * not started for it; as uploads end, malloc is trimmed on a running one. Real byte threads, the fs driver, the seal pool's default delay.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, readAll, sourceOf } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { SealPool } from './seal-pool.js';

function keys() {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('memory handed back once appends stop', () => {
  let root = '';
  const threads = new ByteThreads({ threads: 2 });
  const pool = new SealPool(threads);
  let store: BlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-quiet-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { sealing: pool });
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  async function upload(data: Buffer): Promise<void> {
    const id = randomUUID();
    const w = await store.writer(id, { append: true });
    assert.equal(await w.append(sourceOf(data)), data.length);
    await w.close();
    const c = await store.writer(id, { append: true });
    await c.commit(digestOf(data));
  }

  it('collects on the one thread that ran, without starting the other', async () => {
    const data = bytes(700_000, 1);
    await upload(data);
    assert.equal(threads.liveWorkers().length, 1);
    await until(() => pool.quietMemory.collected === 1);
    assert.equal(pool.quietMemory.returns, 1);
    assert.equal(threads.liveWorkers().length, 1, 'the idle thread was not started to collect');
    assert.equal(pool.quietMemory.trims, 0, 'one upload alone is left to the quiet trim');
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
  });

  it('collects on every running thread once after a crowd of appends, not per append', async () => {
    const before = pool.quietMemory.returns;
    const blobs = Array.from({ length: 12 }, (_, i) => bytes(300_000 + i * 10_007, 10 + i));
    await Promise.all(blobs.map((b) => upload(b)));
    assert.equal(threads.liveWorkers().length, 2);
    await until(() => pool.quietMemory.returns === before + 1 && pool.quietMemory.collected === 3);
    for (const b of blobs) assert.deepEqual(await readAll(await store.read(digestOf(b))), b);
  });

  it('trims malloc on a running byte thread as a crowd of uploads ends, without a collection', async () => {
    const { trims, collected } = pool.quietMemory;
    const blobs = Array.from({ length: 12 }, (_, i) => bytes(200_000 + i * 7_001, 40 + i));
    // A crowd's end: every upload appended, then all commit together (one at a time would not trim).
    const ids = blobs.map(() => randomUUID());
    await Promise.all(
      blobs.map(async (b, i) => {
        const w = await store.writer(ids[i]!, { append: true });
        assert.equal(await w.append(sourceOf(b)), b.length);
        await w.close();
      }),
    );
    const writers = await Promise.all(ids.map((id) => store.writer(id, { append: true })));
    await Promise.all(writers.map((w, i) => w.commit(digestOf(blobs[i]!))));
    // The quiet spell's collections come after (one per running thread, counted apart), and a
    // thread answers in order: by then every trim asked for has answered.
    await until(() => pool.quietMemory.collected === collected + threads.liveWorkers().length);
    // Rate-limited: at least the first commit's trim, never more than one per commit.
    assert.ok(pool.quietMemory.trims > trims, 'no trim as the uploads ended');
    assert.ok(pool.quietMemory.trims <= trims + blobs.length);
    for (const b of blobs) assert.deepEqual(await readAll(await store.read(digestOf(b))), b);
  });
});
