/**
 * The native AES-GCM sealer (native/gcm-seal.cc through native-seal.ts): it seals the bytes Node's
 * crypto seals, chunk after chunk with one context; a bad argument is a thrown error that writes
 * nothing, never a write outside the caller's array; where it cannot be used (not built, turned
 * off) the loader says why instead of failing; and the byte threads store the same blobs with it
 * and without it (BERTH_NATIVE_CIPHER=off, Node's crypto).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { appendPart, bytes, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { loadNativeSeal, nativeSeal, nativeSealUnavailable, nodeSealed } from './native-seal.js';
import { SealPool } from './seal-pool.js';

const native = nativeSeal();
if (!native && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no native sealer: ${nativeSealUnavailable()}`);
const skip = native ? undefined : `the native sealer is not in use: ${nativeSealUnavailable()}`;

describe('native AES-GCM sealer', () => {
  const key = randomBytes(32);

  it("seals the bytes Node's crypto seals, one context for every chunk, into shared memory at an offset", { skip }, () => {
    const s = native!.create(key);
    for (const [index, final, size] of [
      [0, false, 70_000],
      [1, true, 0],
      [2, false, 1],
      [3, true, 15],
      [4, false, 16],
      [2 ** 40 + 5, true, 17],
      [9, false, 4096],
    ] as const) {
      const plain = randomBytes(size);
      const out = new Uint8Array(new SharedArrayBuffer(size + 16 + 10));
      native!.seal(s, index, final, plain, out, 5);
      assert.ok(Buffer.from(out.buffer, 5, size + 16).equals(nodeSealed(key, index, final, plain)), `chunk ${index}, ${size} bytes, final ${final}`);
      assert.deepEqual([...out.subarray(0, 5), ...out.subarray(size + 21)], Array(10).fill(0), 'nothing written around it');
    }
  });

  it('throws for bad arguments and writes nothing outside the destination', { skip }, () => {
    const out = new Uint8Array(100).fill(9);
    const s = native!.create(key);
    const plain = randomBytes(50);
    assert.throws(() => native!.create(randomBytes(16)), /32-byte/);
    assert.throws(() => native!.create('k' as unknown as Uint8Array), /32-byte/);
    assert.throws(() => native!.seal(s, 0, false, plain, out, 35), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => native!.seal(s, 0, false, plain, out, -1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => native!.seal(s, 0, false, randomBytes(85), out, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => native!.seal(s, -1, false, plain, out, 0), /seal\(/);
    assert.throws(() => native!.seal({} as never, 0, false, plain, out, 0), /seal\(/);
    assert.throws(() => native!.seal(s, 0, false, new Uint16Array(5) as unknown as Uint8Array, out, 0), /seal\(/);
    assert.ok(
      out.every((b) => b === 9),
      'nothing written',
    );
  });

  it('is not used, and says why, when turned off or when the addon does not load', async () => {
    const off = loadNativeSeal(undefined, { BERTH_NATIVE_CIPHER: 'off' });
    assert.equal(off.seal, undefined);
    assert.match(off.why!, /BERTH_NATIVE_CIPHER=off/);
    const dir = await mkdtemp(join(tmpdir(), 'berth-native-seal-'));
    try {
      const missing = loadNativeSeal(join(dir, 'none.node'), {});
      assert.equal(missing.seal, undefined);
      assert.match(missing.why!, /none\.node did not load/);
      await writeFile(join(dir, 'junk.node'), 'not a shared object');
      const junk = loadNativeSeal(join(dir, 'junk.node'), {});
      assert.equal(junk.seal, undefined);
      assert.match(junk.why!, /junk\.node did not load/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('byte threads sealing uploads with and without the native sealer', () => {
  const root = mkdtemp(join(tmpdir(), 'berth-native-seal-store-'));
  after(async () => rm(await root, { recursive: true, force: true }));

  for (const setting of ['on', 'off'] as const) {
    it(`stores blobs that read back exact across chunk and slot edges, the addon ${setting}`, async () => {
      // A worker takes a copy of process.env when it starts, and byte threads start on first use:
      // the setting holds until the test ends.
      const saved = process.env.BERTH_NATIVE_CIPHER;
      if (setting === 'off') process.env.BERTH_NATIVE_CIPHER = 'off';
      const threads = new ByteThreads({ threads: 1 });
      try {
        const keyed = { id: randomBytes(16), key: randomBytes(32) };
        const keys = { current: async () => keyed, byId: async () => keyed };
        const store = createEncryptedBlobStore(createFsBlobStore({ root: join(await root, setting) }), keys, {
          chunkSize: 4096,
          sealing: new SealPool(threads, { slotBytes: 5000, slots: 2, bulkBytes: 12_000, bulkSlots: 2 }),
        });
        for (const [size, piece] of [
          [0, 1],
          [4096, 4096],
          [4097, 1000],
          [123_457, 333],
          [300_001, 65_536],
        ] as const) {
          const data = bytes(size, size % 251);
          const id = randomUUID();
          const cut = Math.floor(size / 3);
          await appendPart(store, id, data.subarray(0, cut), piece);
          await appendPart(store, id, data.subarray(cut), piece);
          const w = await store.writer(id, { append: true });
          await w.commit(digestOf(data));
          assert.deepEqual(await readAll(await store.read(digestOf(data))), data, `${size} bytes in ${piece}-byte pieces`);
          if (size > 0)
            assert.deepEqual(await readAll(await store.read(digestOf(data), { start: cut, end: size - 1 })), data.subarray(cut), `${size}: a range`);
        }
      } finally {
        await threads.close();
        if (saved === undefined) delete process.env.BERTH_NATIVE_CIPHER;
        else process.env.BERTH_NATIVE_CIPHER = saved;
      }
    });
  }
});
