/**
 * An append whose source yields fresh pieces (core/fresh-pieces.ts) frees each piece once it is
 * copied into seal slots, also the rest of a piece that waited for a slot; the blob is
 * byte-exact. Pieces of a source not marked so, and pooled slices, are never touched.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import { markFreshPieces } from '../../core/fresh-pieces.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { SealPool } from './seal-pool.js';

function keys() {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

/** Pieces of `data`: copies of their own (as Node's HTTP parser gives), every fourth a pooled copy. */
function piecesOf(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const part = data.subarray(at, at + (i % 4 === 3 ? 100 : 5000 + ((i * 977) % 3000)));
    if (i % 4 === 3) out.push(Buffer.from(part));
    else {
      const own = new Uint8Array(part.length);
      own.set(part);
      out.push(Buffer.from(own.buffer));
    }
    at += part.length;
  }
  return out;
}

describe('sealing fresh pieces', () => {
  let root = '';
  const threads = new ByteThreads({ threads: 1 });
  // One slot of 4 KiB for everything: every piece above that waits for a slot mid-piece.
  const pool = new SealPool(threads, { slotBytes: 4096, slots: 1, budgetBytes: 4096 });
  let store: BlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fresh-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { chunkSize: 4096, sealing: pool });
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  async function upload(data: Buffer, pieces: Buffer[], fresh: boolean): Promise<void> {
    const source = Readable.from(pieces);
    if (fresh) markFreshPieces(source);
    const id = randomUUID();
    const w = await store.writer(id, { append: true });
    assert.equal(await w.append(source), data.length);
    await w.close();
    const c = await store.writer(id, { append: true });
    await c.commit(digestOf(data));
    assert.deepEqual(await readAll(await store.read(digestOf(data))), data);
  }

  it('frees every piece of its own once sealed, waits included; pooled slices stay', async () => {
    const data = bytes(300_000, 7);
    const pieces = piecesOf(data);
    const own = pieces.filter((p) => p.byteOffset === 0 && p.buffer.byteLength === p.length);
    assert.ok(own.length > 30 && own.length < pieces.length);
    await upload(data, pieces, true);
    assert.deepEqual(
      own.filter((p) => p.length !== 0).map((p) => p.buffer.byteLength),
      [],
      'every piece of its own was released',
    );
    for (const p of pieces.filter((x) => !own.includes(x))) assert.ok(p.length > 0, 'a pooled piece stays whole');
  });

  it('leaves the pieces of a source not marked fresh alone', async () => {
    const data = bytes(120_000, 8);
    const pieces = piecesOf(data);
    await upload(data, pieces, false);
    assert.deepEqual(Buffer.concat(pieces), data);
  });
});
