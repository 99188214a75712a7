/**
 * Once appends stop, memory is handed back (workers/quiet-memory.ts): every byte thread that runs
 * collects its heap and trims malloc, once per quiet spell, and a thread that is not running is
 * not started for it; as uploads end, malloc is trimmed on a running one; a thread opening a
 * download is collected only once the download is over (or after the bound). Real byte threads,
 * the fs driver, the seal pool's default delay.
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
import { ByteThreads, type ThreadMessage } from '../workers/threads.js';
import { QuietMemory } from '../workers/quiet-memory.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { OpenPool } from './open-pool.js';
import { SealPool } from './seal-pool.js';

function keys() {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** One upload appended, closed, then committed from a second writer, as the upload API does. */
async function uploadTo(store: BlobStore, data: Buffer): Promise<void> {
  const id = randomUUID();
  const w = await store.writer(id, { append: true });
  assert.equal(await w.append(sourceOf(data)), data.length);
  await w.close();
  await (await store.writer(id, { append: true })).commit(digestOf(data));
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

  const upload = (data: Buffer) => uploadTo(store, data);

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

describe('a byte thread opening a download is not collected under it', () => {
  let root = '';
  const threads = new ByteThreads({ threads: 1 });
  const pool = new SealPool(threads);
  let store: BlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-quiet-busy-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { sealing: pool, opening: new OpenPool(threads) });
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  const upload = (data: Buffer) => uploadTo(store, data);

  it('waits for the download to end, then collects', async () => {
    // 8 MiB: more than the download's ring, so its thread keeps it open until the reader takes the rest.
    const earlier = bytes(8 * 1024 * 1024, 3);
    await upload(earlier);
    await until(() => pool.quietMemory.collected === 1);
    // A push, then a pull of what was pushed before its quiet spell ends (skopeo's copy in, then out).
    const pushed = bytes(300_000, 4);
    await upload(pushed);
    const body = await store.read(digestOf(earlier));
    const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    body.pause();
    assert.equal(threads.threads[0]!.busy, true, 'the download holds its thread');
    await until(() => pool.quietMemory.waiting === 1 || pool.quietMemory.collected === 2);
    assert.equal(pool.quietMemory.collected, 1, 'collected under a download in flight');
    assert.equal(pool.quietMemory.waiting, 1);
    const rest = await readAll(body);
    assert.deepEqual(Buffer.concat([first, rest]), earlier);
    await until(() => pool.quietMemory.collected === 2);
    assert.equal(pool.quietMemory.waiting, 0);
  });

  it('collects a thread that stays busy once the bound has passed', async () => {
    const t = new ByteThreads({ threads: 2 });
    const quiet = new QuietMemory(t, 10, 300);
    try {
      // Both threads running (a trim starts each), one with work awaited, as a download holds it.
      for (const x of t.threads) x.post({ kind: 'memory', op: 'trim' } as ThreadMessage);
      await until(() => quiet.trims === 2);
      t.threads[0]!.hold(1);
      quiet.quiet();
      // The hand-back counts its spell and sorts the threads in one turn; this poll's timer falls
      // before the first look again (100 ms), so the busy thread is seen waiting whatever the load.
      await until(() => quiet.returns === 1);
      assert.equal(quiet.waiting, 1, 'the busy thread waits');
      await until(() => quiet.collected === 2);
      assert.equal(quiet.waiting, 0);
      assert.equal(t.threads[0]!.busy, true, 'collected while still busy, the bound having passed');
    } finally {
      t.threads[0]!.hold(-1);
      await t.close();
    }
  });
});
