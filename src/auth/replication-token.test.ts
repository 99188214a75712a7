/** Replication tokens: what a source region presents to a destination's /v2. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AuthError } from './errors.js';
import { issueLoginToken, verifyLoginToken } from './login-token.js';
import { isReplicationToken, issueReplicationToken, REPLICATION_TOKEN_TTL_SECONDS, verifyReplicationToken } from './replication-token.js';

const KEY = randomBytes(32);
const NOW = new Date('2026-12-03T12:00:00.000Z');
const CLAIMS = {
  sourceAccountId: '111111111111',
  sourceRegion: 'us-east-1',
  destinationAccountId: '222222222222',
  destinationRegion: 'eu-west-1',
  repository: 'team/web',
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AuthError, String(e));
    return e.reason;
  }
  assert.fail('expected an AuthError');
}

describe('replication tokens', () => {
  it('round-trip with their claims, for 15 minutes', () => {
    const token = issueReplicationToken(CLAIMS, { now: NOW, key: KEY });
    assert.ok(isReplicationToken(token));
    const expiresAt = new Date(NOW.getTime() + REPLICATION_TOKEN_TTL_SECONDS * 1000);
    assert.deepEqual(verifyReplicationToken(token, { now: NOW, keys: [KEY] }), { ...CLAIMS, expiresAt });
    assert.equal(
      reason(() => verifyReplicationToken(token, { now: expiresAt, keys: [KEY] })),
      'ExpiredLoginToken',
    );
  });

  it('are refused under another server key, or when altered', () => {
    const token = issueReplicationToken(CLAIMS, { now: NOW, key: KEY });
    assert.equal(
      reason(() => verifyReplicationToken(token, { now: NOW, keys: [randomBytes(32)] })),
      'InvalidLoginToken',
    );
    const [v, kid, body, mac] = token.split('.');
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), n: 'other/repo' })).toString('base64url');
    assert.equal(
      reason(() => verifyReplicationToken([v, kid, widened, mac].join('.'), { now: NOW, keys: [KEY] })),
      'InvalidLoginToken',
    );
  });

  it('never pass for login tokens, nor login tokens for them (one server key, two labels)', () => {
    const replication = issueReplicationToken(CLAIMS, { now: NOW, key: KEY });
    assert.equal(
      reason(() => verifyLoginToken(replication, { now: NOW, keys: [KEY] })),
      'InvalidLoginToken',
    );
    const login = issueLoginToken({ accountId: '111111111111', principalArn: 'arn:aws:iam::111111111111:root', now: NOW, key: KEY }).password;
    assert.equal(isReplicationToken(login), false);
    const forged = `r1.${login.slice(login.indexOf('.') + 1)}`;
    assert.equal(
      reason(() => verifyReplicationToken(forged, { now: NOW, keys: [KEY] })),
      'InvalidLoginToken',
    );
  });
});
