/**
 * Forged, confused and stale web identity tokens at AssumeRoleWithWebIdentity, from outside: two
 * OIDC issuers on loopback registered as providers of one account, a role trusting only the
 * first, and tokens an attacker can make — an HMAC "signature" keyed with the issuer's public key
 * (algorithm confusion), a signature by the other issuer's key under this issuer's name (with its
 * kid, another, or none), the other issuer's own good token, claims not valid yet or without an
 * expiry, audiences of which none (or only one) is the provider's, a claim named twice. Each
 * refusal is STS's error and hands out no credentials. Real SDK client, unsigned as the CLI
 * sends the call; app in process.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, createSign, sign } from 'node:crypto';
import {
  AttachRolePolicyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { makeKey, signJwt, startIssuer, type SigningKey, type TestIssuer } from '../e2e/helpers/oidc-issuer.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const SUB = 'repo:acme/app:ref:refs/heads/main';
const b64 = (v: object | string) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('web identity tokens that must not pass', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let a: TestIssuer;
  let b: TestIssuer;

  const exchange = (token: string, role = 'gha') =>
    new STSClient({ endpoint: berth.url, region: berth.region, maxAttempts: 1 }).send(
      new AssumeRoleWithWebIdentityCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`, RoleSessionName: 'run-1', WebIdentityToken: token }),
    );
  /** A's claims, good unless changed. */
  const claims = (extra: Record<string, unknown> = {}) => ({ iss: a.url, sub: SUB, aud: 'sts.amazonaws.com', iat: now(), exp: now() + 300, ...extra });
  const invalid = async (token: string, what: string) => assert.match(await refusal(exchange(token)), /^InvalidIdentityTokenException: /, what);

  before(async () => {
    [berth, a, b] = await Promise.all([startInProcess(), startIssuer('RS256'), startIssuer('ES256')]);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const providers = [];
    for (const issuer of [a, b]) {
      providers.push(
        (await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'] }))).OpenIDConnectProviderArn!,
      );
    }
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: providers[0] },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${a.host}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${a.host}:sub`]: 'repo:acme/*:ref:refs/heads/main' } },
        },
      ],
    };
    await iam.send(new CreateRoleCommand({ RoleName: 'gha', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'gha', PolicyArn: READ_ONLY }));
  });
  after(async () => {
    await berth?.cleanup();
    await a?.close();
    await b?.close();
  });

  it("takes the trusted issuer's good token (the control)", async () => {
    const answer = await exchange(a.token(claims()));
    assert.equal(answer.SubjectFromWebIdentityToken, SUB);
    assert.ok(answer.Credentials?.SessionToken);
  });

  it("refuses an HMAC signature keyed with the issuer's public key (algorithm confusion), and alg none", async () => {
    const pem = publicPem(a.key);
    for (const [alg, secret] of [
      ['HS256', pem],
      ['HS256', JSON.stringify(a.key.jwk)],
      ['HS512', pem],
    ] as const) {
      const input = `${b64({ alg, typ: 'JWT', kid: a.key.kid })}.${b64(claims())}`;
      const hash = alg === 'HS256' ? 'sha256' : 'sha512';
      await invalid(`${input}.${createHmac(hash, secret).update(input).digest('base64url')}`, `${alg} keyed with the public key`);
    }
    await invalid(`${b64({ alg: 'none', kid: a.key.kid })}.${b64(claims())}.`, 'alg none');
    await invalid(`${b64({ alg: 'None', kid: a.key.kid })}.${b64(claims())}.`, 'alg None');
  });

  it("refuses a token in the trusted issuer's name signed with another issuer's key: its kid, an unknown kid, or none", async () => {
    const other = makeKey('RS256');
    await invalid(signJwt(b.key, claims()), "the other provider's key, with its kid");
    await invalid(signJwt(other, claims()), 'a key no issuer publishes, with a kid not in the key set');
    await invalid(signJwt(other, claims(), { kid: a.key.kid }), "another key under the issuer's own kid");
    await invalid(signJwt(other, claims(), { kid: undefined }), 'another key and no kid');
  });

  it("refuses another registered issuer's good token for a role that trusts only the first", async () => {
    const token = b.token({ sub: SUB, aud: 'sts.amazonaws.com', iat: now(), exp: now() + 300 });
    assert.equal(await refusal(exchange(token)), 'AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity');
    // The same token with the trusted issuer's name is not the trusted issuer's: its key set has no such key.
    await invalid(signJwt(b.key, claims()), 'renamed');
  });

  it('refuses a token not valid yet, issued in the future, without an expiry, or with times that are not numbers', async () => {
    await invalid(a.token(claims({ nbf: now() + 3600 })), 'nbf in an hour');
    await invalid(a.token(claims({ iat: now() + 3600 })), 'iat in an hour');
    const { exp: _, ...noExp } = claims();
    await invalid(a.token(noExp), 'no exp');
    await invalid(a.token(claims({ exp: String(now() + 300) })), 'exp a string');
    assert.match(await refusal(exchange(a.token(claims({ iat: now() - 7200, exp: now() - 3600 })))), /^ExpiredTokenException: /);
  });

  it("refuses audiences none of which is the provider's; of several, the provider's one is the session's", async () => {
    await invalid(a.token(claims({ aud: 'someone-else' })), 'another audience');
    await invalid(a.token(claims({ aud: ['someone-else', 'another'] })), 'two others');
    await invalid(a.token(claims({ aud: [] })), 'no audience');
    await invalid(a.token(claims({ aud: 7 })), 'a number');
    const { aud: _, ...noAud } = claims();
    await invalid(a.token(noAud), 'none at all');
    // OIDC lets a token name several audiences; one the provider lists is enough (as on AWS), and
    // that one is the session's audience and the trust policy's `:aud`.
    const answer = await exchange(a.token(claims({ aud: ['someone-else', 'sts.amazonaws.com'] })));
    assert.equal(answer.Audience, 'sts.amazonaws.com');
  });

  it('reads a claim named twice as its last value, the same value for the signature check, the trust policy and the answer', async () => {
    // RFC 7519 section 4: a parser either refuses duplicate claim names or takes the last one.
    const payload = (first: string, last: string) =>
      `{"iss":${JSON.stringify(a.url)},"aud":"sts.amazonaws.com","iat":${now()},"exp":${now() + 300},"sub":${JSON.stringify(first)},"sub":${JSON.stringify(last)}}`;
    const signed = (json: string) => signJwtRaw(a.key, json);
    const allowed = await exchange(signed(payload('repo:evil/app:ref:refs/heads/main', SUB)));
    assert.equal(allowed.SubjectFromWebIdentityToken, SUB);
    assert.equal(
      await refusal(exchange(signed(payload(SUB, 'repo:evil/app:ref:refs/heads/main')))),
      'AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity',
    );
  });

  it("matches the trust policy's StringLike on :sub as IAM does: the wildcard within the pattern, nothing past its end", async () => {
    await exchange(a.token(claims({ sub: 'repo:acme/other:ref:refs/heads/main' })));
    for (const sub of [
      'repo:acme/app:ref:refs/heads/main2',
      'repo:acme/app:ref:refs/heads/mai',
      'repo:acmex/app:ref:refs/heads/main',
      'REPO:acme/app:ref:refs/heads/main',
    ]) {
      assert.equal(await refusal(exchange(a.token(claims({ sub })))), 'AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity', sub);
    }
    await invalid(a.token(claims({ sub: '' })), 'an empty sub');
    await invalid(a.token(claims({ sub: ['repo:acme/app:ref:refs/heads/main'] })), 'sub an array');
  });

  it('refuses an amr claim that is not a list of strings, before any condition reads it', async () => {
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${a.host}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { 'ForAnyValue:StringLike': { [`${a.host}:amr`]: 'mfa*' }, StringEquals: { [`${a.host}:sub`]: SUB } },
        },
      ],
    };
    await iam.send(new CreateRoleCommand({ RoleName: 'mfa', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await exchange(a.token(claims({ amr: ['pwd', 'mfa'] })), 'mfa');
    await exchange(a.token(claims({ amr: 'mfa' })), 'mfa');
    // A list inside the list passed `StringLike` as its text before session 37.
    for (const amr of [[['mfa']], [1, 'mfa'], [{ mfa: true }], [null], 7, { 0: 'mfa' }]) {
      assert.equal(
        await refusal(exchange(a.token(claims({ amr })), 'mfa')),
        "InvalidIdentityTokenException: the token's amr is not a list of strings",
        JSON.stringify(amr),
      );
    }
  });

  it("refuses an issuer's good token once its provider is deleted", async () => {
    const token = b.token({ sub: SUB, aud: 'sts.amazonaws.com', iat: now(), exp: now() + 300 });
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/${b.host}` }));
    assert.match(await refusal(exchange(token)), /^InvalidIdentityTokenException: No OpenIDConnect provider found/);
  });
});

/** The PEM of a key's public half, as anyone may fetch it from the issuer and use it. */
function publicPem(key: SigningKey): string {
  return createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string;
}

/** A compact JWS over a payload given as JSON text (so a claim can be named twice). */
function signJwtRaw(key: SigningKey, json: string): string {
  const input = `${b64({ alg: key.alg, typ: 'JWT', kid: key.kid })}.${b64(json)}`;
  const sig =
    key.alg === 'RS256'
      ? createSign('sha256').update(input).sign(key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
