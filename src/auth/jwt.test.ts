import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { JwtError, MAX_JWT_CHARS, parseJwt, publicKeyFromJwk, verifyJwtSignature } from './jwt.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaJwk = rsa.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
const ecJwk = ec.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;

function rs256(claims: object, header: object = { alg: 'RS256', kid: 'k1' }): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createSign('sha256').update(input).sign(rsa.privateKey).toString('base64url')}`;
}
function es256(claims: object): string {
  const input = `${b64({ alg: 'ES256' })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

describe('JWT parsing and verification', () => {
  it('verifies RS256 and ES256 signatures with keys from JWKs', () => {
    const r = parseJwt(rs256({ sub: 'a' }));
    assert.equal(r.header.kid, 'k1');
    assert.equal(r.claims.sub, 'a');
    assert.ok(verifyJwtSignature(r, publicKeyFromJwk(rsaJwk)!));
    assert.ok(verifyJwtSignature(parseJwt(es256({ sub: 'b' })), publicKeyFromJwk(ecJwk)!));
  });

  it('refuses a signature by another key, an altered payload, and a key of another algorithm', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    assert.equal(verifyJwtSignature(parseJwt(rs256({ sub: 'a' })), publicKeyFromJwk(other)!), false);
    const [h, , s] = rs256({ sub: 'a' }).split('.');
    assert.equal(verifyJwtSignature(parseJwt(`${h}.${b64({ sub: 'admin' })}.${s}`), publicKeyFromJwk(rsaJwk)!), false);
    // An ES256 token checked against the RSA key (algorithm confusion) fails, whatever the bytes.
    assert.equal(verifyJwtSignature(parseJwt(es256({ sub: 'b' })), publicKeyFromJwk(rsaJwk)!), false);
    // An ES256 signature that is not 64 bytes (DER, or truncated) is refused.
    const [eh, ep] = es256({}).split('.');
    assert.equal(verifyJwtSignature(parseJwt(`${eh}.${ep}.${b64('x'.repeat(70))}`), publicKeyFromJwk(ecJwk)!), false);
  });

  it('refuses hostile tokens before any key is tried', () => {
    const bad: Array<[string, string]> = [
      ['alg none', `${b64({ alg: 'none' })}.${b64({ sub: 'a' })}.`],
      ['alg HS256 (a public key used as an HMAC secret)', `${b64({ alg: 'HS256' })}.${b64({})}.${b64('sig')}`],
      ['no alg', `${b64({})}.${b64({})}.${b64('sig')}`],
      ['crit', `${b64({ alg: 'RS256', crit: ['exp'] })}.${b64({})}.${b64('sig')}`],
      ['two parts', `${b64({ alg: 'RS256' })}.${b64({})}`],
      ['four parts', `${b64({ alg: 'RS256' })}.${b64({})}.${b64('s')}.x`],
      ['not base64url', `${b64({ alg: 'RS256' })}.e30=.${b64('s')}`],
      ['header not JSON', `${b64('{')}.${b64({})}.${b64('s')}`],
      ['payload an array', `${b64({ alg: 'RS256' })}.${b64([1])}.${b64('s')}`],
      ['kid not a string', `${b64({ alg: 'RS256', kid: 7 })}.${b64({})}.${b64('s')}`],
      ['empty signature', `${b64({ alg: 'RS256' })}.${b64({})}.`],
      ['huge', 'a'.repeat(MAX_JWT_CHARS + 1)],
    ];
    for (const [what, token] of bad) assert.throws(() => parseJwt(token), JwtError, what);
  });

  it('takes no weak or unusable key from a key set', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    assert.equal(publicKeyFromJwk(weak), undefined);
    assert.equal(publicKeyFromJwk({ kty: 'oct', k: 'c2VjcmV0' }), undefined);
    assert.equal(publicKeyFromJwk({ ...ecJwk, crv: 'P-384' }), undefined);
    assert.equal(publicKeyFromJwk({ kty: 'RSA', n: '!!', e: 'AQAB' }), undefined);
    assert.equal(publicKeyFromJwk({ ...rsaJwk, alg: 'RS512' }), undefined);
  });
});
