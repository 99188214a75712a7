/**
 * The native opener's two GCMs (native/gcm-open.cc): its own AVX2 one (native/gcm-avx2.h: VAES
 * CTR + VPCLMULQDQ GHASH) where the CPU has it, and OpenSSL's (create(key, false)). Both must open
 * exactly what Node's crypto seals: every length 0..300 and around the 16-, 128- and 256-byte and
 * 64 KiB boundaries (a block, the GHASH's 8-block stride, the CTR's 8-block loop, a 16 KiB step),
 * in random pieces down to single bytes, with ranges hashed but not deciphered; and refuse a
 * flipped bit anywhere. The AVX2 GCM also meets the published AES-256 vectors (McGrew & Viega's
 * GCM spec, test cases 13-16) through openRaw.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkAad, chunkNonce } from './chunk-format.js';
import { GCM_LENGTHS, addonPath, builtAddon, gcmPaths, randomCuts } from './gcm-testing.js';
import type { NativeGcm } from './native-gcm.js';

const gcm = builtAddon<NativeGcm>('gcm-open');
const skip = gcm ? undefined : `${addonPath('gcm-open')} was not built`;
const paths = gcmPaths(gcm?.avx2);

function seal(key: Buffer, index: number, final: boolean, plain: Buffer): { cipher: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, chunkNonce(index), { authTagLength: 16 });
  c.setAAD(chunkAad(index, final));
  return { cipher: Buffer.concat([c.update(plain), c.final()]), tag: c.getAuthTag() };
}

/** Opens `cipher` in `cuts` pieces; pieces wholly outside [from, to) go without a destination. */
function open(avx2: boolean, key: Buffer, index: number, final: boolean, cipher: Buffer, tag: Buffer, cuts: number[], from = 0, to = cipher.length) {
  const out = new Uint8Array(cipher.length + 3);
  const o = gcm!.create(key, avx2);
  gcm!.begin(o, index, final);
  let at = 0;
  for (const n of cuts) {
    const piece = cipher.subarray(at, at + n);
    if (at + n <= from || at >= to) gcm!.update(o, piece);
    else gcm!.update(o, piece, out, at + 1);
    at += n;
  }
  return { ok: gcm!.finish(o, tag), plain: Buffer.from(out.buffer, 1, cipher.length) };
}

describe('native AES-GCM opener, both GCMs against Node', () => {
  for (const [name, avx2] of paths) {
    it(`${name}: opens every length Node seals, in random pieces`, { skip }, () => {
      for (const len of GCM_LENGTHS) {
        const key = randomBytes(32);
        const index = randomInt(2 ** 40);
        const final = len % 2 === 0;
        const plain = randomBytes(len);
        const { cipher, tag } = seal(key, index, final, plain);
        const whole = open(avx2, key, index, final, cipher, tag, len ? [len] : []);
        assert.ok(whole.ok && whole.plain.equals(plain), `length ${len} whole`);
        const cut = open(avx2, key, index, final, cipher, tag, randomCuts(len));
        assert.ok(cut.ok && cut.plain.equals(plain), `length ${len} in pieces`);
      }
    });

    it(`${name}: hashes the pieces outside a range without deciphering them`, { skip }, () => {
      for (const len of [1, 17, 300, 4097, 65_537, 200_003]) {
        const key = randomBytes(32);
        const plain = randomBytes(len);
        const { cipher, tag } = seal(key, 3, false, plain);
        const cuts = randomCuts(len);
        const bounds = [0];
        for (const n of cuts) bounds.push(bounds.at(-1)! + n);
        const from = bounds[randomInt(bounds.length)]!;
        const later = bounds.filter((b) => b >= from);
        const to = later[randomInt(later.length)]!;
        const r = open(avx2, key, 3, false, cipher, tag, cuts, from, to);
        assert.ok(r.ok, `length ${len}, range ${from}-${to}: the tag checks`);
        assert.ok(r.plain.subarray(from, to).equals(plain.subarray(from, to)), `length ${len}, range ${from}-${to}`);
        assert.ok(r.plain.subarray(0, from).every((b) => b === 0) && r.plain.subarray(to).every((b) => b === 0), 'nothing written outside the range');
      }
    });

    it(`${name}: refuses a flipped bit in the tag, the ciphertext, the index or the final flag`, { skip }, () => {
      for (const len of [0, 1, 16, 129, 65_536]) {
        const key = randomBytes(32);
        const plain = randomBytes(len);
        const { cipher, tag } = seal(key, 9, true, plain);
        const bit = () => 1 << randomInt(8);
        const badTag = Buffer.from(tag);
        badTag[randomInt(16)]! ^= bit();
        assert.equal(open(avx2, key, 9, true, cipher, badTag, randomCuts(len)).ok, false, `length ${len}: tag`);
        if (len > 0) {
          const badCipher = Buffer.from(cipher);
          badCipher[randomInt(len)]! ^= bit();
          assert.equal(open(avx2, key, 9, true, badCipher, tag, randomCuts(len)).ok, false, `length ${len}: ciphertext`);
          // The same flip in a piece that is only hashed.
          assert.equal(open(avx2, key, 9, true, badCipher, tag, [len], len, len).ok, false, `length ${len}: hashed ciphertext`);
        }
        assert.equal(open(avx2, key, 9 + 2 ** randomInt(40), true, cipher, tag, randomCuts(len)).ok, false, `length ${len}: index`);
        assert.equal(open(avx2, key, 9, false, cipher, tag, randomCuts(len)).ok, false, `length ${len}: final flag`);
        assert.equal(open(avx2, key, 9, true, cipher, tag, randomCuts(len)).ok, true, `length ${len}: untouched`);
      }
    });
  }
});

const hex = (s: string) => Buffer.from(s, 'hex');
const P = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const C = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad';
const K = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308';
/** McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", AES-256 test cases with a 96-bit IV. */
const VECTORS = [
  { name: 'test case 13', key: '00'.repeat(32), iv: '00'.repeat(12), aad: '', p: '', c: '', t: '530f8afbc74536b9a963b4f1c4cb738b' },
  {
    name: 'test case 14',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    aad: '',
    p: '00'.repeat(16),
    c: 'cea7403d4d606b6e074ec5d3baf39d18',
    t: 'd0d1c8a799996bf0265b98b5d48ab919',
  },
  { name: 'test case 15', key: K, iv: 'cafebabefacedbaddecaf888', aad: '', p: P, c: C, t: 'b094dac5d93471bdec1a502270e3cc6c' },
  {
    name: 'test case 16',
    key: K,
    iv: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    p: P.slice(0, 120),
    c: C.slice(0, 120),
    t: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

describe('native AVX2 GCM, any nonce and AAD (openRaw)', () => {
  const noAvx2 = skip ?? (gcm!.avx2 ? undefined : "this CPU uses OpenSSL's GCM (gcm-avx2.h runs only with VAES and without AVX-512)");

  it('meets the GCM spec’s AES-256 test vectors, and refuses them with a flipped tag', { skip: noAvx2 }, () => {
    for (const v of VECTORS) {
      const plain = gcm!.openRaw(hex(v.key), hex(v.iv), hex(v.aad), hex(v.c), hex(v.t));
      assert.ok(plain && Buffer.from(plain).equals(hex(v.p)), v.name);
      const bad = hex(v.t);
      bad[0]! ^= 1;
      assert.equal(gcm!.openRaw(hex(v.key), hex(v.iv), hex(v.aad), hex(v.c), bad), null, `${v.name}, flipped tag`);
    }
  });

  it('opens what Node seals with random nonces and AADs of every length up to 80', { skip: noAvx2 }, () => {
    for (let aadLen = 0; aadLen <= 80; aadLen++) {
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const aad = randomBytes(aadLen);
      const plain = randomBytes(randomInt(600));
      const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      c.setAAD(aad);
      const cipher = Buffer.concat([c.update(plain), c.final()]);
      const tag = c.getAuthTag();
      const got = gcm!.openRaw(key, iv, aad, cipher, tag);
      assert.ok(got && Buffer.from(got).equals(plain), `aad ${aadLen}`);
      if (aadLen > 0) {
        aad[randomInt(aadLen)]! ^= 1 << randomInt(8);
        assert.equal(gcm!.openRaw(key, iv, aad, cipher, tag), null, `aad ${aadLen}, flipped AAD bit`);
      }
    }
  });
});
