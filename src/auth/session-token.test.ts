import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AuthError } from './errors.js';
import { openSessionToken, sealSessionToken, type SessionClaims } from './session-token.js';

const key = randomBytes(32);
const now = new Date('2026-12-03T12:00:00Z');
const claims: SessionClaims = {
  accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
  secretAccessKey: 'secret',
  accountId: '123456789012',
  expiresAt: new Date(now.getTime() + 900_000),
  subject: { kind: 'role', roleName: 'r', rolePath: '/', roleId: 'AROAX', sessionName: 's' },
  tags: { team: 'blue' },
};
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof AuthError);
    return e.reason;
  }
  return assert.fail('no error');
};

describe('session tokens', () => {
  it('open to what was sealed, under any of the accepted server keys', () => {
    const token = sealSessionToken(claims, key);
    assert.deepEqual(openSessionToken(token, { now, keys: [randomBytes(32), key] }), claims);
    assert.doesNotMatch(token, /secret|blue/, 'the secret and the tags are not readable in the token');
  });

  it('refuse expiry, another key, any altered character, and junk', () => {
    const token = sealSessionToken(claims, key);
    assert.equal(
      reason(() => openSessionToken(token, { now: claims.expiresAt, keys: [key] })),
      'ExpiredToken',
    );
    assert.equal(
      reason(() => openSessionToken(token, { now, keys: [randomBytes(32)] })),
      'UnrecognizedClient',
    );
    for (let i = 0; i < token.length; i += 7) {
      const c = token[i] === 'A' ? 'B' : 'A';
      const altered = token.slice(0, i) + c + token.slice(i + 1);
      if (altered !== token)
        assert.equal(
          reason(() => openSessionToken(altered, { now, keys: [key] })),
          'UnrecognizedClient',
          `character ${i}`,
        );
    }
    for (const junk of ['', 'v1', 'v1.a.b.c.d', 'x'.repeat(5000), 'v2.' + token.slice(3)]) {
      assert.equal(
        reason(() => openSessionToken(junk, { now, keys: [key] })),
        'UnrecognizedClient',
      );
    }
  });
});
