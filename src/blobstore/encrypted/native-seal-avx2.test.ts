/**
 * The native sealer's two GCMs (native/gcm-seal.cc): its own AVX2 one (native/gcm-avx2.h: VAES
 * CTR, then VPCLMULQDQ GHASH over the ciphertext) where the CPU has it, and OpenSSL's
 * (create(key, false)). Both must seal exactly what Node's crypto seals, whole or in random pieces
 * down to single bytes, in place or not, for every length 0..300 and around the 16-, 128- and
 * 256-byte and 64 KiB boundaries; and what they seal must open with Node and with the native
 * opener's other GCM.
 */
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkAad, chunkNonce } from './chunk-format.js';
import { GCM_LENGTHS, builtAddon, gcmPaths, randomCuts } from './gcm-testing.js';
import type { NativeGcm } from './native-gcm.js';
import { type NativeSeal, nodeSealed } from './native-seal.js';

const sealer = builtAddon<NativeSeal>('gcm-seal');
const opener = builtAddon<NativeGcm>('gcm-open');
const skip = sealer && opener ? undefined : 'the cipher addons were not built';
const paths = gcmPaths(sealer?.avx2);
function nodeOpened(key: Buffer, index: number, final: boolean, sealed: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, chunkNonce(index), { authTagLength: 16 });
  d.setAAD(chunkAad(index, final));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

describe('native AES-GCM sealer, both GCMs against Node', () => {
  for (const [name, avx2] of paths) {
    it(`${name}: seals every length as Node does, whole, in pieces, and in place`, { skip }, () => {
      for (const len of GCM_LENGTHS) {
        const key = randomBytes(32);
        const index = randomInt(2 ** 40);
        const final = len % 3 === 0;
        const plain = randomBytes(len);
        const expected = nodeSealed(key, index, final, plain);
        const s = sealer!.create(key, avx2);
        const out = new Uint8Array(new SharedArrayBuffer(len + 16 + 5));
        sealer!.seal(s, index, final, plain, out, 5);
        assert.ok(Buffer.from(out.buffer, 5, len + 16).equals(expected), `length ${len} whole`);
        out.fill(0);
        sealer!.begin(s, index, final);
        let at = 0;
        for (const n of randomCuts(len)) {
          sealer!.update(s, plain.subarray(at, at + n), out, 5 + at);
          at += n;
        }
        sealer!.finish(s, out, 5 + len);
        assert.ok(Buffer.from(out.buffer, 5, len + 16).equals(expected), `length ${len} in pieces`);
        const inPlace = Buffer.concat([plain, Buffer.alloc(16)]);
        sealer!.begin(s, index, final);
        at = 0;
        for (const n of randomCuts(len)) {
          const piece = inPlace.subarray(at, at + n);
          sealer!.update(s, piece, piece, 0);
          at += n;
        }
        sealer!.finish(s, inPlace, len);
        assert.ok(inPlace.equals(expected), `length ${len} in place`);
      }
    });

    it(`${name}: what it seals opens with Node and with the opener's other GCM`, { skip }, () => {
      for (const len of [0, 1, 15, 16, 17, 255, 256, 257, 65_535, 65_536, 65_537]) {
        const key = randomBytes(32);
        const plain = randomBytes(len);
        const out = new Uint8Array(len + 16);
        const s = sealer!.create(key, avx2);
        sealer!.seal(s, 11, true, plain, out, 0);
        const sealed = Buffer.from(out);
        assert.ok(nodeOpened(key, 11, true, sealed).equals(plain), `length ${len}: Node opens it`);
        const o = opener!.create(key, !avx2);
        const back = new Uint8Array(len);
        opener!.begin(o, 11, true);
        opener!.update(o, sealed.subarray(0, len), back, 0);
        assert.equal(opener!.finish(o, sealed.subarray(len)), true, `length ${len}: the other GCM opens it`);
        assert.ok(Buffer.from(back).equals(plain), `length ${len}: the other GCM opens it to the plaintext`);
      }
    });
  }
});
