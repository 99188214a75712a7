import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CIPHERTEXT_OVERHEAD, ciphertextKeyId, encodeContext, openCiphertext, sealCiphertext } from './ciphertext.js';
import { isKmsKeyError } from './kms-errors.js';

const subkey = randomBytes(32);
const keyId = randomBytes(16);

function invalidCiphertext(e: unknown): boolean {
  assert.ok(isKmsKeyError(e), String(e));
  assert.equal(e.kmsType, 'InvalidCiphertextException');
  return true;
}

describe('KMS API ciphertexts', () => {
  it('round-trips, with and without an encryption context, the context in any order', () => {
    const plaintext = Buffer.from('hello kms');
    const bare = sealCiphertext({ subkey, keyId, plaintext, context: {} });
    assert.deepEqual(openCiphertext({ subkey, blob: bare, context: {} }), plaintext);
    const blob = sealCiphertext({ subkey, keyId, plaintext, context: { b: '2', a: '1' } });
    assert.deepEqual(openCiphertext({ subkey, blob, context: { a: '1', b: '2' } }), plaintext);
    const big = randomBytes(4096);
    assert.deepEqual(openCiphertext({ subkey, blob: sealCiphertext({ subkey, keyId, plaintext: big, context: {} }), context: {} }), big);
  });

  it('lays out version, key id, nonce, ciphertext and tag; a fresh nonce each time', () => {
    const plaintext = randomBytes(100);
    const blob = sealCiphertext({ subkey, keyId, plaintext, context: {} });
    assert.equal(blob.length, plaintext.length + CIPHERTEXT_OVERHEAD);
    assert.equal(CIPHERTEXT_OVERHEAD, 1 + 16 + 12 + 16);
    assert.equal(blob[0], 1);
    assert.deepEqual(ciphertextKeyId(blob), keyId);
    assert.ok(!blob.includes(plaintext.subarray(0, 16)), 'no plaintext in the blob');
    const again = sealCiphertext({ subkey, keyId, plaintext, context: {} });
    assert.notDeepEqual(again.subarray(17, 29), blob.subarray(17, 29));
    assert.notDeepEqual(again, blob);
  });

  it('fails on any changed byte, a truncation, another key or another context', () => {
    const blob = sealCiphertext({ subkey, keyId, plaintext: Buffer.from('secret'), context: { purpose: 'test' } });
    for (let i = 1; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x01;
      assert.throws(() => openCiphertext({ subkey, blob: bad, context: { purpose: 'test' } }), invalidCiphertext, `byte ${i}`);
    }
    assert.throws(() => openCiphertext({ subkey, blob: blob.subarray(0, blob.length - 1), context: { purpose: 'test' } }), invalidCiphertext);
    assert.throws(() => openCiphertext({ subkey: randomBytes(32), blob, context: { purpose: 'test' } }), invalidCiphertext);
    const others: Array<Record<string, string>> = [{}, { purpose: 'Test' }, { purpose: 'test', extra: '' }, { Purpose: 'test' }];
    for (const context of others) {
      assert.throws(() => openCiphertext({ subkey, blob, context }), invalidCiphertext, JSON.stringify(context));
    }
  });

  it('refuses what is not a blob of this format before trying a key', () => {
    assert.throws(() => ciphertextKeyId(Buffer.alloc(CIPHERTEXT_OVERHEAD - 1, 1)), invalidCiphertext);
    const blob = sealCiphertext({ subkey, keyId, plaintext: Buffer.from('x'), context: {} });
    const v2 = Buffer.from(blob);
    v2[0] = 2;
    assert.throws(() => ciphertextKeyId(v2), invalidCiphertext);
    assert.throws(() => openCiphertext({ subkey, blob: v2, context: {} }), invalidCiphertext);
  });

  it('encodes a context canonically: sorted by key bytes, length-prefixed', () => {
    assert.deepEqual(encodeContext({}), Buffer.from([0, 0, 0, 0]));
    assert.deepEqual(encodeContext({ b: 'y', a: 'x' }), encodeContext({ a: 'x', b: 'y' }));
    assert.deepEqual(
      encodeContext({ b: 'yy', a: 'x' }),
      Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0x78, 0, 0, 0, 1, 0x62, 0, 0, 0, 2, 0x79, 0x79]),
    );
    // Separators cannot be forged: the lengths tell pairs apart.
    assert.notDeepEqual(encodeContext({ 'a:b': 'c' }), encodeContext({ a: 'b:c' }));
    assert.notDeepEqual(encodeContext({ ab: '' }), encodeContext({ a: 'b' }));
    // UTF-8 byte order, not UTF-16 code unit order: U+FF5E sorts before U+1F600 in UTF-8.
    const keys = [...encodeContext({ '\u{1F600}': '1', '\uFF5E': '2' }).subarray(8, 11)];
    assert.deepEqual(keys, [...Buffer.from('\uFF5E')]);
  });
});
