/**
 * Early writeback of staged chunks (seal-task.ts SYNC_EVERY), on real worker threads over the
 * fs driver: the worker starts an fdatasync of the staged file every so many bytes it writes,
 * while it goes on sealing. Such a sync that fails must fail its append (the kernel reports a
 * writeback error to that fd alone, so the commit's fsync would not see it), leave the upload
 * what its record says, and let the next append and the commit give the exact bytes; and an
 * append whose syncs succeed stores exactly what it was given, its file closed after them.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import type { BlobStore, BlobWriter } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { appendPart as patch, bytes, openFilesUnder, readAll, sourceOf } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { SealPool } from './seal-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

describe('seal pool: early writeback of the staged file', () => {
  const CHUNK = 4096;
  const threads = new ByteThreads({ threads: 1 });
  // A sync after every two chunks written.
  const pool = new SealPool(threads, { slotBytes: 5000, slots: 3, syncEvery: 2 * CHUNK });
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-seal-writeback-'));
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  it('fails an append whose early sync fails, with the error code; the upload stays what its record says and resumes', async () => {
    const dir = join(root, 'sync-fails');
    const fs = createFsBlobStore({ root: dir });
    // Fault injection: the worker is handed /dev/null, where writes succeed and fdatasync fails (EINVAL).
    let broken = false;
    const inner: BlobStore = {
      ...fs,
      writer: async (id, o) => {
        const w = await fs.writer(id, o);
        if (!w.localAppend) throw new Error('the fs driver writes locally');
        const local = w.localAppend.bind(w);
        const hooked: BlobWriter = {
          uploadId: w.uploadId,
          get size() {
            return w.size;
          },
          append: (source, signal) => w.append(source, signal),
          commit: (d) => w.commit(d),
          cancel: () => w.cancel(),
          close: () => w.close(),
          localAppend: async () => {
            const real = await local();
            if (!broken) return real;
            await real.done();
            const sink = await open('/dev/null', 'r+');
            const done = async (): Promise<number> => {
              await sink.close();
              return 0;
            };
            return { fd: sink.fd, position: real.position, done };
          },
        };
        return hooked;
      },
    };
    const store = createEncryptedBlobStore(inner, keys(), { chunkSize: CHUNK, sealing: pool });
    const first = bytes(30_000, 1);
    const id = randomUUID();
    await patch(store, id, first, 1000);
    broken = true;
    const w = await store.writer(id, { append: true });
    await assert.rejects(w.append(sourceOf(bytes(60_000, 2), 3000)), (e: Error & { code?: string }) => e.code === 'EINVAL');
    await w.close();
    broken = false;
    assert.equal(pool.active, 0);
    assert.equal(await store.statUpload(id), first.length);
    const more = bytes(50_000, 3);
    await patch(store, id, more, 7000);
    const all = Buffer.concat([first, more]);
    const c = await store.writer(id, { append: true });
    await c.commit(digestOf(all));
    assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
  });

  it('stores exactly the bytes given while syncs run behind the writes, and closes the staged file after them', async () => {
    const dir = join(root, 'exact');
    const store = createEncryptedBlobStore(createFsBlobStore({ root: dir }), keys(), { chunkSize: CHUNK, sealing: pool });
    const parts = [bytes(333_333, 10), bytes(1, 11), bytes(200_000, 12)];
    const id = randomUUID();
    for (const [i, p] of parts.entries()) {
      await patch(store, id, p, [4096, 1, 65_536][i]);
      assert.equal(await openFilesUnder(dir), 0, 'no staged file is left open after an append');
    }
    const all = Buffer.concat(parts);
    assert.equal(await store.statUpload(id), all.length);
    const c = await store.writer(id, { append: true });
    await c.commit(digestOf(all));
    assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
    assert.equal(pool.active, 0);
  });
});
