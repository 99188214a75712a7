/**
 * The native AES-GCM opener (native/gcm-open.cc through native-gcm.ts) on its own: it opens what
 * Node's crypto seals and refuses what it must (a wrong tag, index, final flag or key); a bad
 * argument is a thrown error that writes nothing, never a write outside the caller's array; and
 * where it cannot be used (not built, turned off) the loader says why instead of failing.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chunkAad, chunkNonce } from './chunk-format.js';
import { loadNativeGcm, nativeGcm, nativeGcmUnavailable } from './native-gcm.js';

const gcm = nativeGcm();
if (!gcm && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no native opener: ${nativeGcmUnavailable()}`);
const skip = gcm ? undefined : `the native opener is not in use: ${nativeGcmUnavailable()}`;

function seal(key: Buffer, index: number, final: boolean, plain: Buffer): { cipher: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, chunkNonce(index), { authTagLength: 16 });
  c.setAAD(chunkAad(index, final));
  const cipher = Buffer.concat([c.update(plain), c.final()]);
  return { cipher, tag: c.getAuthTag() };
}

describe('native AES-GCM opener', () => {
  const key = randomBytes(32);
  const plain = randomBytes(70_000);
  const { cipher, tag } = seal(key, 7, false, plain);

  it('opens what Node seals, into shared memory at an offset, in pieces of any size', { skip }, () => {
    for (const step of [1, 15, 16, 17, 4096, 70_000]) {
      const out = new Uint8Array(new SharedArrayBuffer(70_010));
      const o = gcm!.create(key);
      gcm!.begin(o, 7, false);
      for (let at = 0; at < cipher.length; at += step) gcm!.update(o, cipher.subarray(at, at + step), out, 5 + at);
      assert.equal(gcm!.finish(o, tag), true, `pieces of ${step}`);
      assert.ok(Buffer.from(out.buffer, 5, 70_000).equals(plain), `pieces of ${step}`);
      assert.deepEqual([...out.subarray(0, 5), ...out.subarray(70_005)], Array(10).fill(0));
    }
  });

  it('refuses a wrong tag, index, final flag or key, and opens the next chunk after one', { skip }, () => {
    const out = new Uint8Array(70_000);
    const badTag = Buffer.from(tag);
    badTag[15]! ^= 1;
    const badCipher = Buffer.from(cipher);
    badCipher[40_000]! ^= 0x80;
    const cases: Array<[string, Buffer, number, boolean, Buffer, Buffer]> = [
      ['tag', key, 7, false, cipher, badTag],
      ['ciphertext', key, 7, false, badCipher, tag],
      ['index', key, 8, false, cipher, tag],
      ['final flag', key, 7, true, cipher, tag],
      ['key', randomBytes(32), 7, false, cipher, tag],
    ];
    for (const [what, k, index, final, c, t] of cases) {
      const o = gcm!.create(k);
      gcm!.begin(o, index, final);
      gcm!.update(o, c, out, 0);
      assert.equal(gcm!.finish(o, t), false, `a wrong ${what}`);
      // The same opener goes on to a good chunk.
      if (k === key) {
        gcm!.begin(o, 7, false);
        gcm!.update(o, cipher, out, 0);
        assert.equal(gcm!.finish(o, tag), true, `after a wrong ${what}`);
        assert.ok(Buffer.from(out).equals(plain));
      }
    }
  });

  it('discards bytes deciphered without a destination, yet checks them', { skip }, () => {
    const out = new Uint8Array(1000);
    const o = gcm!.create(key);
    gcm!.begin(o, 7, false);
    gcm!.update(o, cipher.subarray(0, 69_000));
    gcm!.update(o, cipher.subarray(69_000), out, 0);
    assert.equal(gcm!.finish(o, tag), true);
    assert.ok(Buffer.from(out).equals(plain.subarray(69_000)));
    const bad = Buffer.from(cipher);
    bad[3]! ^= 1;
    gcm!.begin(o, 7, false);
    gcm!.update(o, bad.subarray(0, 69_000));
    gcm!.update(o, bad.subarray(69_000), out, 0);
    assert.equal(gcm!.finish(o, tag), false);
  });

  it('throws for bad arguments and writes nothing outside the destination', { skip }, () => {
    const out = new Uint8Array(100).fill(9);
    const o = gcm!.create(key);
    assert.throws(() => gcm!.create(randomBytes(16)), /32-byte/);
    assert.throws(() => gcm!.create('k' as unknown as Uint8Array), /32-byte/);
    assert.throws(() => gcm!.update(o, cipher.subarray(0, 10), out, 0), /no chunk begun/);
    assert.throws(() => gcm!.finish(o, tag), /no chunk begun/);
    gcm!.begin(o, 7, false);
    assert.throws(() => gcm!.update(o, cipher.subarray(0, 10), out, 91), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => gcm!.update(o, cipher.subarray(0, 10), out, -1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => gcm!.update(o, cipher.subarray(0, 101), out, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => gcm!.update(o, cipher.subarray(0, 10), new Uint16Array(10) as unknown as Uint8Array, 0), /update/);
    assert.throws(() => gcm!.update({} as never, cipher.subarray(0, 10), out, 0), /update/);
    assert.throws(() => gcm!.begin(o, -1, false), /begin/);
    assert.throws(() => gcm!.finish(o, tag.subarray(0, 12)), /16 bytes/);
    assert.ok(
      out.every((b) => b === 9),
      'nothing written',
    );
  });

  it('is not used, and says why, when turned off or when the addon does not load', async () => {
    const off = loadNativeGcm(undefined, { BERTH_NATIVE_CIPHER: 'off' });
    assert.equal(off.gcm, undefined);
    assert.match(off.why!, /BERTH_NATIVE_CIPHER=off/);
    const dir = await mkdtemp(join(tmpdir(), 'berth-native-'));
    try {
      const missing = loadNativeGcm(join(dir, 'none.node'), {});
      assert.equal(missing.gcm, undefined);
      assert.match(missing.why!, /none\.node did not load/);
      // A file that is not an addon at all (a half-written or foreign build).
      await writeFile(join(dir, 'junk.node'), 'not a shared object');
      const junk = loadNativeGcm(join(dir, 'junk.node'), {});
      assert.equal(junk.gcm, undefined);
      assert.match(junk.why!, /junk\.node did not load/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
