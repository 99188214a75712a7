/** Access key shapes and sealing of secrets at rest. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateAccessKeyId, generateSecretAccessKey, isAccessKeyId, openSecret, sealSecret } from './access-keys.js';

describe('access key generation', () => {
  it('ids are AKIA + 16 base32 characters, and differ', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = generateAccessKeyId();
      assert.match(id, /^AKIA[A-Z2-7]{16}$/);
      assert.ok(isAccessKeyId(id));
      ids.add(id);
    }
    assert.equal(ids.size, 500);
    assert.equal(isAccessKeyId('AKIA' + '1'.repeat(16)), false);
    assert.equal(isAccessKeyId('ASIA' + 'A'.repeat(16)), false);
  });

  it('secrets are 40 characters of A-Za-z0-9+/ and differ', () => {
    const secrets = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const s = generateSecretAccessKey();
      assert.match(s, /^[A-Za-z0-9+/]{40}$/);
      secrets.add(s);
    }
    assert.equal(secrets.size, 500);
  });
});

describe('sealSecret / openSecret', () => {
  const key = randomBytes(32);
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  it('round-trips, with a fresh IV each time, and never contains the plaintext', () => {
    const a = sealSecret(secret, key);
    const b = sealSecret(secret, key);
    assert.notEqual(a, b);
    assert.ok(!a.includes(secret));
    assert.equal(openSecret(a, key), secret);
    assert.equal(openSecret(b, key), secret);
  });

  it('refuses another server key', () => {
    assert.throws(() => openSecret(sealSecret(secret, key), randomBytes(32)), /authentication failed/);
  });

  it('refuses any altered character', () => {
    const sealed = sealSecret(secret, key, 'AKIAEXAMPLE');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 3; i < sealed.length; i++) {
      if (sealed[i] === '.') continue;
      const replacement = alphabet[(alphabet.indexOf(sealed[i]!) + 1) % alphabet.length]!;
      const altered = sealed.slice(0, i) + replacement + sealed.slice(i + 1);
      assert.throws(() => openSecret(altered, key, 'AKIAEXAMPLE'), /sealed secret/, `position ${i}`);
    }
  });

  it('binds the sealed value to its context (so rows cannot swap secrets)', () => {
    const sealed = sealSecret(secret, key, 'AKIAONE');
    assert.equal(openSecret(sealed, key, 'AKIAONE'), secret);
    assert.throws(() => openSecret(sealed, key, 'AKIATWO'), /authentication failed/);
    assert.throws(() => openSecret(sealed, key), /authentication failed/);
  });

  it('rejects malformed values and keys of the wrong size', () => {
    assert.throws(() => openSecret('v2.a.b.c', key), /unknown format/);
    assert.throws(() => openSecret('not sealed', key), /unknown format/);
    assert.throws(() => sealSecret(secret, randomBytes(16)), /32 bytes/);
  });
});
