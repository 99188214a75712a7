/** Registry login tokens (`aws ecr get-login-password`) and HTTP Basic parsing. */
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AuthError } from './errors.js';
import {
  ANONYMOUS_TOKEN_ARN,
  BEARER_TOKEN_TTL_SECONDS,
  issueBearerToken,
  issueLoginToken,
  LOGIN_TOKEN_TTL_SECONDS,
  parseBasicAuth,
  verifyBasicLogin,
  verifyLoginToken,
} from './login-token.js';

const KEY = randomBytes(32);
const NOW = new Date('2026-11-22T15:40:34.250Z');
const ACCOUNT = '123456789012';
const ARN = 'arn:aws:iam::123456789012:user/team/alice';

function issue(over: Partial<Parameters<typeof issueLoginToken>[0]> = {}) {
  return issueLoginToken({ accountId: ACCOUNT, principalArn: ARN, now: NOW, key: KEY, ...over });
}

function rejection(fn: () => unknown): AuthError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AuthError, String(e));
    return e;
  }
  assert.fail('expected an AuthError');
}

/**
 * A token as Berth minted it before session 33 (`v1`/`b1`: the claims in clear base64url JSON,
 * the same key id and MAC), written out here because nothing mints that format any more.
 */
function clearToken(purpose: 'login' | 'bearer', body: Record<string, unknown>, key = KEY): string {
  const hk = (info: string, n: number) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, n));
  const kid = hk(`berth ${purpose}-token key id v1`, 6).toString('base64url');
  const signed = `${purpose === 'login' ? 'v1' : 'b1'}.${kid}.${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
  return `${signed}.${createHmac('sha256', hk(`berth ${purpose}-token mac v1`, 32))
    .update(signed)
    .digest('base64url')}`;
}

const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

describe('login tokens', () => {
  it('round-trip, valid for 12 hours by default', () => {
    const { password, expiresAt } = issue();
    assert.equal(LOGIN_TOKEN_TTL_SECONDS, 43200);
    assert.equal(expiresAt.getTime(), NOW.getTime() + 12 * 3600 * 1000);
    assert.deepEqual(verifyLoginToken(password, { now: NOW, keys: [KEY] }), { accountId: ACCOUNT, principalArn: ARN, expiresAt });
  });

  it('are bound to the region that issued them: another region, or a token naming none, is refused there', () => {
    const { password } = issue({ region: 'us-east-1' });
    assert.equal(verifyLoginToken(password, { now: NOW, keys: [KEY], region: 'us-east-1' }).region, 'us-east-1');
    const elsewhere = rejection(() => verifyLoginToken(password, { now: NOW, keys: [KEY], region: 'eu-west-1' }));
    assert.equal(elsewhere.reason, 'InvalidLoginToken');
    const unbound = issue();
    assert.equal(rejection(() => verifyLoginToken(unbound.password, { now: NOW, keys: [KEY], region: 'us-east-1' })).reason, 'InvalidLoginToken');
    assert.equal(rejection(() => verifyBasicLogin(basic('AWS', password), { now: NOW, keys: [KEY], region: 'eu-west-1' })).reason, 'InvalidLoginToken');
  });

  it('expire at exactly 12 hours', () => {
    const { password, expiresAt } = issue();
    const justBefore = new Date(expiresAt.getTime() - 1);
    assert.equal(verifyLoginToken(password, { now: justBefore, keys: [KEY] }).accountId, ACCOUNT);
    const err = rejection(() => verifyLoginToken(password, { now: expiresAt, keys: [KEY] }));
    assert.equal(err.reason, 'ExpiredLoginToken');
    assert.deepEqual(err.oci, { code: 'UNAUTHORIZED', status: 401 });
    assert.equal(rejection(() => verifyLoginToken(password, { now: new Date(expiresAt.getTime() + 1), keys: [KEY] })).reason, 'ExpiredLoginToken');
  });

  it('honour a custom lifetime', () => {
    const { password, expiresAt } = issue({ ttlSeconds: 60 });
    assert.equal(expiresAt.getTime(), NOW.getTime() + 60_000);
    assert.equal(rejection(() => verifyLoginToken(password, { now: new Date(NOW.getTime() + 60_000), keys: [KEY] })).reason, 'ExpiredLoginToken');
    assert.throws(() => issue({ ttlSeconds: 0 }), /positive/);
  });

  it('are rejected when any character is changed, dropped or added', () => {
    const { password } = issue();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    for (let i = 0; i < password.length; i++) {
      const c = password[i]!;
      const other = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length]!;
      for (const altered of [password.slice(0, i) + other + password.slice(i + 1), password.slice(0, i) + password.slice(i + 1)]) {
        const err = rejection(() => verifyLoginToken(altered, { now: NOW, keys: [KEY] }));
        assert.equal(err.reason, 'InvalidLoginToken', `position ${i}`);
      }
    }
    assert.equal(rejection(() => verifyLoginToken(password + 'A', { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    assert.equal(rejection(() => verifyLoginToken(password + '.x', { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
  });

  it('are rejected under another key', () => {
    const { password } = issue();
    assert.equal(rejection(() => verifyLoginToken(password, { now: NOW, keys: [randomBytes(32)] })).reason, 'InvalidLoginToken');
    assert.equal(rejection(() => verifyLoginToken(password, { now: NOW, keys: [] })).reason, 'InvalidLoginToken');
  });

  it('survive a key rotation while the old key is still listed', () => {
    const oldKey = KEY;
    const newKey = randomBytes(32);
    const before = issue({ key: oldKey });
    const after = issue({ key: newKey });
    assert.notEqual(before.password.split('.')[1], after.password.split('.')[1], 'tokens name their key');
    assert.equal(verifyLoginToken(before.password, { now: NOW, keys: [newKey, oldKey] }).principalArn, ARN);
    assert.equal(verifyLoginToken(after.password, { now: NOW, keys: [newKey, oldKey] }).principalArn, ARN);
    assert.equal(rejection(() => verifyLoginToken(before.password, { now: NOW, keys: [newKey] })).reason, 'InvalidLoginToken');
  });

  it("never contain ':' and use only base64url characters and '.'", () => {
    for (let i = 0; i < 1000; i++) {
      const arn = `arn:aws:iam::${String(i).padStart(12, '0')}:user/${randomBytes(1 + (i % 40)).toString('latin1')}`;
      const { password } = issue({ principalArn: arn, key: i % 2 ? KEY : randomBytes(32), now: new Date(NOW.getTime() + i * 997) });
      assert.match(password, /^[A-Za-z0-9_.-]+$/);
      assert.ok(!password.includes(':'));
    }
  });

  it('carry nothing readable: the claims sealed, a 256-bit MAC', () => {
    const session = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789abcdef';
    const { password } = issue({ session, accessKeyId: 'AKIAEXAMPLEEXAMPLE12', userId: 'AIDAEXAMPLEEXAMPLE1', region: 'eu-west-1' });
    const [version, kid, claims, mac] = password.split('.') as [string, string, string, string];
    assert.equal(version, 'v2');
    assert.ok(kid.length > 0);
    assert.equal(Buffer.from(mac, 'base64url').length, 32);
    const readable = [password, ...password.split('.').map((p) => Buffer.from(p, 'base64url').toString('latin1'))].join('\n');
    for (const secret of [
      session,
      session.slice(0, 12),
      'AKIAEXAMPLEEXAMPLE12',
      'AIDAEXAMPLEEXAMPLE1',
      ACCOUNT,
      'alice',
      'eu-west-1',
      KEY.toString('base64url').slice(0, 8),
    ])
      assert.ok(!readable.includes(secret), `${secret} readable in the token`);
    assert.throws(() => JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')));
    // The same claims sealed twice read differently (a fresh IV each time), and both open.
    const again = issue({ session, region: 'eu-west-1' }).password;
    assert.notEqual(again.split('.')[2], issue({ session, region: 'eu-west-1' }).password.split('.')[2]);
    assert.equal(verifyLoginToken(password, { now: NOW, keys: [KEY], region: 'eu-west-1' }).session, session);
  });

  it('minted before they were sealed (v1, claims in clear) still verify until they expire', () => {
    const e = NOW.getTime() + 3600_000;
    const old = clearToken('login', { a: ACCOUNT, p: ARN, e, s: 'SESSION', k: 'AKIAEXAMPLEEXAMPLE12', r: 'us-east-1' });
    assert.deepEqual(verifyLoginToken(old, { now: NOW, keys: [KEY], region: 'us-east-1' }), {
      accountId: ACCOUNT,
      principalArn: ARN,
      expiresAt: new Date(e),
      session: 'SESSION',
      accessKeyId: 'AKIAEXAMPLEEXAMPLE12',
      region: 'us-east-1',
    });
    assert.equal(rejection(() => verifyLoginToken(old, { now: new Date(e), keys: [KEY] })).reason, 'ExpiredLoginToken');
    assert.equal(rejection(() => verifyLoginToken(old, { now: NOW, keys: [randomBytes(32)] })).reason, 'InvalidLoginToken');
    const bearer = clearToken('bearer', { a: ACCOUNT, p: ARN, e, r: 'us-east-1' });
    assert.equal(verifyLoginToken(bearer, { now: NOW, keys: [KEY], purpose: 'bearer' }).principalArn, ARN);
    // A clear token never passes as the other purpose, nor with its claims altered.
    assert.equal(rejection(() => verifyLoginToken(bearer, { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    const [v, kid, , mac] = old.split('.');
    const forged = `${v}.${kid}.${Buffer.from(JSON.stringify({ a: ACCOUNT, p: 'arn:aws:iam::123456789012:root', e })).toString('base64url')}.${mac}`;
    assert.equal(rejection(() => verifyLoginToken(forged, { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
  });

  it('reject sealed claims that do not open, even under a valid MAC', () => {
    const { password } = issue();
    const [v, kid, claims] = password.split('.') as [string, string, string, string];
    const raw = Buffer.from(claims, 'base64url');
    raw[raw.length - 1]! ^= 1;
    const hk = (info: string) => Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), info, 32));
    for (const body of [raw.toString('base64url'), Buffer.from('{}').toString('base64url'), '']) {
      const signed = `${v}.${kid}.${body}`;
      const token = `${signed}.${createHmac('sha256', hk('berth login-token mac v1')).update(signed).digest('base64url')}`;
      assert.equal(rejection(() => verifyLoginToken(token, { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    }
  });

  it('name the access key they were minted with, and still verify without one (minted before they did)', () => {
    const keyed = verifyLoginToken(issue({ accessKeyId: 'AKIAEXAMPLEEXAMPLE12' }).password, { now: NOW, keys: [KEY] });
    assert.equal(keyed.accessKeyId, 'AKIAEXAMPLEEXAMPLE12');
    const old = verifyLoginToken(issue().password, { now: NOW, keys: [KEY] });
    assert.equal(old.accessKeyId, undefined);
    assert.equal(old.principalArn, ARN);
  });

  it('reject malformed values without throwing anything but AuthError', () => {
    const { password } = issue();
    const [v, kid, claims, mac] = password.split('.') as [string, string, string, string];
    for (const bad of [
      '',
      'v1',
      'v1.a.b',
      `v3.${kid}.${claims}.${mac}`,
      `b2.${kid}.${claims}.${mac}`,
      `${v}.${kid}.${claims}.${mac.slice(0, 10)}`,
      `${v}.${kid}.${claims}.${mac}${mac}`,
      'x'.repeat(10_000),
      '::::',
    ]) {
      assert.equal(rejection(() => verifyLoginToken(bad, { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken', bad.slice(0, 40));
    }
  });
});

describe('HTTP Basic', () => {
  it('parses credentials, splitting on the first colon', () => {
    assert.deepEqual(parseBasicAuth(basic('AWS', 'pa:ss:word')), { username: 'AWS', password: 'pa:ss:word' });
    assert.deepEqual(parseBasicAuth('basic ' + Buffer.from('u:').toString('base64')), { username: 'u', password: '' });
    assert.deepEqual(parseBasicAuth(basic('ünï', 'cødé')), { username: 'ünï', password: 'cødé' });
  });

  it('returns undefined for anything else', () => {
    for (const h of [
      undefined,
      '',
      'Bearer abc',
      'Basic',
      'Basic !!!',
      'Basic ' + Buffer.from('nocolon').toString('base64'),
      'AWS4-HMAC-SHA256 Credential=x',
    ]) {
      assert.equal(parseBasicAuth(h), undefined, String(h));
    }
  });

  it('accepts user AWS with a valid token, and nothing else', () => {
    const { password } = issue();
    assert.equal(verifyBasicLogin(basic('AWS', password), { now: NOW, keys: [KEY] }).principalArn, ARN);
    assert.equal(rejection(() => verifyBasicLogin(basic('aws', password), { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    assert.equal(rejection(() => verifyBasicLogin(basic('AWS', 'guess'), { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    const missing = rejection(() => verifyBasicLogin(undefined, { now: NOW, keys: [KEY] }));
    assert.equal(missing.reason, 'MissingAuthentication');
    assert.equal(missing.oci.status, 401);
  });
});

describe("Bearer tokens (the token endpoint's)", () => {
  const REGION = 'us-east-1';
  const login = () => verifyLoginToken(issue({ region: REGION, session: 'sealed-session' }).password, { now: NOW, keys: [KEY] });

  it("name the login's principal, session and region, for 15 minutes", () => {
    const { token, expiresAt } = issueBearerToken(login(), { now: NOW, key: KEY, region: REGION });
    assert.equal(BEARER_TOKEN_TTL_SECONDS, 900);
    assert.equal(expiresAt.getTime(), NOW.getTime() + 900_000);
    assert.match(token, /^b2\./);
    assert.deepEqual(verifyLoginToken(token, { now: NOW, keys: [KEY], region: REGION, purpose: 'bearer' }), {
      accountId: ACCOUNT,
      principalArn: ARN,
      expiresAt,
      session: 'sealed-session',
      region: REGION,
    });
  });

  it('name the access key of the login they came from', () => {
    const l = verifyLoginToken(issue({ accessKeyId: 'AKIAEXAMPLEEXAMPLE12' }).password, { now: NOW, keys: [KEY] });
    const { token } = issueBearerToken(l, { now: NOW, key: KEY, region: REGION });
    assert.equal(verifyLoginToken(token, { now: NOW, keys: [KEY], purpose: 'bearer' }).accessKeyId, 'AKIAEXAMPLEEXAMPLE12');
  });

  it('never outlive the login they came from', () => {
    const l = verifyLoginToken(issue({ ttlSeconds: 100 }).password, { now: NOW, keys: [KEY] });
    assert.equal(issueBearerToken(l, { now: NOW, key: KEY, region: REGION }).expiresAt.getTime(), l.expiresAt.getTime());
  });

  it('are anonymous when issued for no login', () => {
    const { token } = issueBearerToken(undefined, { now: NOW, key: KEY, region: REGION });
    const claims = verifyLoginToken(token, { now: NOW, keys: [KEY], purpose: 'bearer' });
    assert.deepEqual([claims.accountId, claims.principalArn], ['', ANONYMOUS_TOKEN_ARN]);
  });

  it('and login tokens never pass for each other, even under the same key', () => {
    const { token } = issueBearerToken(login(), { now: NOW, key: KEY, region: REGION });
    const { password } = issue();
    assert.equal(rejection(() => verifyLoginToken(token, { now: NOW, keys: [KEY] })).reason, 'InvalidLoginToken');
    assert.equal(rejection(() => verifyLoginToken(password, { now: NOW, keys: [KEY], purpose: 'bearer' })).reason, 'InvalidLoginToken');
    // Same claims, same key, another purpose: the MAC differs, so relabelling the version does not help.
    const relabelled = `b2.${password.split('.').slice(1).join('.')}`;
    assert.equal(rejection(() => verifyLoginToken(relabelled, { now: NOW, keys: [KEY], purpose: 'bearer' })).reason, 'InvalidLoginToken');
  });

  it('expire with a message that names them', () => {
    const { token, expiresAt } = issueBearerToken(undefined, { now: NOW, key: KEY, region: REGION });
    const err = rejection(() => verifyLoginToken(token, { now: expiresAt, keys: [KEY], purpose: 'bearer' }));
    assert.equal(err.reason, 'ExpiredLoginToken');
    assert.match(err.message, /^Your Bearer token has expired/);
  });
});
