/**
 * The token endpoint and Bearer tokens on /v2, against the real app in process over real HTTP
 * (docker, containerd and skopeo drive the same flow in test/e2e): what /token hands out for a
 * login, for a containerd-style OAuth form and for no credentials; that a Bearer token is its
 * principal and nothing more (IAM still decides each request); and everything refused — another
 * account's private repository, an anonymous push, an expired, altered or foreign-signed token,
 * a wrong password, hostile parameters — with nothing issued.
 */
import { CreateRepositoryCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { issueBearerToken } from '../../src/auth/login-token.js';
import type { Clock } from '../../src/core/clock.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { makeImage, pushImage } from '../e2e/helpers/gc.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const OTHER = '222222222222';

interface Answer {
  status: number;
  headers: Headers;
  json: { token?: string; access_token?: string; scope?: string; expires_in?: number; issued_at?: string; errors?: Array<{ code: string; message: string }> };
}

/** The WWW-Authenticate a request sent with this Host header is answered with (fetch sets Host itself). */
function challengeFor(port: number, host: string, path: string, authorization?: string): Promise<{ status: number; challenge: string | undefined }> {
  return new Promise((resolve, reject) => {
    const headers = { Host: host, ...(authorization !== undefined && { Authorization: authorization }) };
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Hosts a client may send that must never be quoted into a challenge: a quote, spaces, commas. */
const HOSTILE_HOSTS = ['evil", realm="http://attacker.example', 'a b', 'a,b', 'x"'];

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? {} : (JSON.parse(text) as Answer['json']) };
}

describe('the token endpoint and Bearer tokens', () => {
  let berth: BerthInProcess;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
  let other: TestIdentity;

  /** A raw request with exactly these headers: no remembered login is added. */
  const raw = (path: string, init: RequestInit = {}) => fetch(`${berth.url}${path}`, init);
  const tokenGet = async (query = '', authorization?: string) =>
    answer(await raw(`/token${query}`, { headers: authorization === undefined ? {} : { authorization } }));
  const tokenFor = async (authorization?: string) => {
    const a = await tokenGet('?service=berth&scope=repository:team/app:pull', authorization);
    assert.equal(a.status, 200, JSON.stringify(a.json));
    return a.json.token!;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const pullWith = (token: string, path: string) => raw(path, { headers: bearer(token) });
  /** A refusal that issued nothing: the status, an OCI error body, and no token in it. */
  const refused = (a: Answer, status: number, message?: RegExp) => {
    assert.equal(a.status, status, JSON.stringify(a.json));
    assert.equal(a.json.token, undefined);
    assert.equal(a.json.access_token, undefined);
    assert.ok(a.json.errors?.[0]?.code, JSON.stringify(a.json));
    if (message) assert.match(a.json.errors![0]!.message, message);
  };

  before(async () => {
    berth = await startInProcess({ onDisk: true, clock });
    const admin = ecrClient(berth);
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    await pushImage(berth.url, makeImage('team/app', 'v1', []));
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await pushImage(berth.url, makeImage(`${ACCOUNT}/tools/hello`, 'v1', []));
    // Another account's root, with a private repository of its own.
    await createAccount(berth, OTHER);
    other = await otherAccountIdentity(berth, OTHER);
    await other.ecr.send(new CreateRepositoryCommand({ repositoryName: 'their/app' }));
  });
  after(async () => berth?.cleanup());

  it('hands out an anonymous token with no credentials: it reads public repositories and nothing else', async () => {
    const a = await tokenGet(`?service=${berth.host}&scope=repository:${ACCOUNT}/tools/hello:pull`);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('cache-control'), 'no-store');
    assert.equal(a.json.access_token, a.json.token);
    assert.equal(a.json.expires_in, 900);
    assert.ok(Math.abs(Date.parse(a.json.issued_at!) - clock.now().getTime()) < 60_000, a.json.issued_at);
    const token = a.json.token!;
    assert.equal((await pullWith(token, `/v2/${ACCOUNT}/tools/hello/manifests/v1`)).status, 200);
    assert.equal((await pullWith(token, `/v2/${ACCOUNT}/tools/hello/tags/list`)).status, 200);

    const priv = await pullWith(token, '/v2/team/app/manifests/v1');
    assert.equal(priv.status, 401);
    assert.equal(priv.headers.get('www-authenticate'), `Bearer realm="${berth.url}/token",service="${berth.host}",scope="repository:team/app:pull"`);
    const push = await raw(`/v2/${ACCOUNT}/tools/hello/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /,scope="repository:000000000000\/tools\/hello:pull,push"$/);
    assert.equal((await pullWith(token, '/v2/')).status, 401, 'the base route is for logins: an anonymous token proves none');
    // `Basic Og==` (an empty user and password, as skopeo sends for none) is no credential either.
    assert.equal((await tokenGet('', 'Basic Og==')).status, 200);
  });

  it('exchanges Basic AWS:<login token> for a Bearer token of the same principal, which IAM still judges per request', async () => {
    const token = await tokenFor(berth.authorization);
    assert.match(token, /^b2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal((await pullWith(token, '/v2/')).status, 200);
    assert.equal((await pullWith(token, '/v2/team/app/manifests/v1')).status, 200);
    // The scope asked for was pull; the token is the root's all the same (IAM allows the root's push).
    const up = await raw('/v2/team/app/blobs/uploads/', { method: 'POST', headers: bearer(token) });
    assert.equal(up.status, 202);
    // Basic sent unasked still works beside it (curl, scripts, the conformance suite).
    assert.equal((await raw('/v2/team/app/manifests/v1', { headers: { authorization: berth.authorization } })).status, 200);
  });

  it("takes containerd's OAuth form (grant_type=password) and refuses other grants with 400, so containerd falls back to GET", async () => {
    const password = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    const form = (fields: Record<string, string>, type = 'application/x-www-form-urlencoded') =>
      raw('/token', { method: 'POST', headers: { 'content-type': type }, body: new URLSearchParams(fields).toString() }).then(answer);
    const base = { service: berth.host, scope: 'repository:team/app:pull repository:team/other:pull,push', client_id: 'containerd-client' };
    const ok = await form({ ...base, grant_type: 'password', username: 'AWS', password });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    // The distribution spec's OAuth answer carries the scope granted (stricter than RFC 6749 §5.1): the one asked for.
    assert.equal(ok.json.scope, base.scope);
    const unscoped = await form({ service: berth.host, grant_type: 'password', username: 'AWS', password });
    assert.equal(unscoped.status, 200);
    assert.equal(unscoped.json.scope, undefined, 'nothing asked, no scope named');
    assert.equal((await pullWith(ok.json.access_token!, '/v2/team/app/manifests/v1')).status, 200);

    refused(await form({ ...base, grant_type: 'refresh_token', refresh_token: 'x' }), 400, /grant_type "refresh_token" is not supported/);
    refused(await form({ ...base, username: 'AWS', password }), 400, /grant_type/);
    refused(await form({ ...base, grant_type: 'password', username: 'AWS', password }, 'application/json'), 400, /form/);
    refused(await form({ ...base, grant_type: 'password', username: 'AWS', password: `${password}x` }), 401);
    refused(await form({ ...base, grant_type: 'password', username: 'admin', password }), 401);
    refused(await form({ ...base, grant_type: 'password', username: 'AWS' }), 401, /username and a password/);
    refused(
      await answer(await raw('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a='.padEnd(20_000, 'a') })),
      400,
      /exceeds/,
    );
  });

  it("a token of one account's principal does not read another account's private repository, either way", async () => {
    const mine = await tokenFor(berth.authorization);
    const theirs = await tokenFor(other.authorization);
    assert.equal((await pullWith(theirs, '/v2/their/app/tags/list')).status, 200, 'their token reads their own registry');
    const across = await pullWith(mine, `/v2/account--${OTHER}/their/app/tags/list`);
    assert.equal(across.status, 403);
    const back = await pullWith(theirs, `/v2/account--${ACCOUNT}/team/app/manifests/v1`);
    assert.equal(back.status, 403);
    // Each token's own registry is its account's: theirs does not find team/app in it.
    assert.equal((await pullWith(theirs, '/v2/team/app/manifests/v1')).status, 404);
  });

  it('refuses an altered, foreign-signed or expired token, and a login token presented as a Bearer token, with 401 and the challenge', async () => {
    const token = await tokenFor(berth.authorization);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    const altered = [`${token.slice(0, -1)}${last}`, token.replace('.', '.x'), `${token.slice(0, 20)}${token[20] === 'a' ? 'b' : 'a'}${token.slice(21)}`];
    const login = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    const foreign = issueBearerToken(undefined, { now: clock.now(), key: randomBytes(32), region: berth.region }).token;
    for (const bad of [...altered, foreign, login, '', 'x'.repeat(9000)]) {
      const r = await pullWith(bad, '/v2/team/app/manifests/v1');
      assert.equal(r.status, 401, bad.slice(0, 40));
      // RFC 6750 §3.1: a refused token is `invalid_token` (containerd then fetches another once).
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+",service="[^"]+",scope="repository:team\/app:pull",error="invalid_token"$/);
    }
    // No token at all, or a valid anonymous one short of a private repository: a challenge with no error.
    for (const headers of [{}, bearer(await tokenFor())]) {
      const r = await raw('/v2/team/app/manifests/v1', { headers });
      assert.equal(r.status, 401);
      assert.doesNotMatch(r.headers.get('www-authenticate') ?? '', /error=/);
    }
    // An anonymous token signed with another key is no more public than it is private.
    assert.equal((await pullWith(foreign, `/v2/${ACCOUNT}/tools/hello/manifests/v1`)).status, 401);

    offsetMs = 15 * 60_000;
    try {
      const r = await pullWith(token, '/v2/team/app/manifests/v1');
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /,error="invalid_token"$/);
      assert.match(((await r.json()) as { errors: Array<{ message: string }> }).errors[0]!.message, /Bearer token has expired/);
    } finally {
      offsetMs = 0;
    }
  });

  it('never outlives the login it came from: a login with 100 s left gets a token of 100 s', async () => {
    // A login of its own, whose expiry GetAuthorizationToken says (the token itself is sealed).
    const data = (await ecrClient(berth).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    const authorization = `Basic ${data.authorizationToken!}`;
    const loginExpiry = data.expiresAt!.getTime();
    offsetMs = loginExpiry - 100_000 - Date.now();
    try {
      const a = await tokenGet('', authorization);
      assert.equal(a.status, 200);
      assert.ok(a.json.expires_in! <= 100 && a.json.expires_in! >= 90, String(a.json.expires_in));
      // A second past it: the answer's expiresAt may be rounded to the second.
      offsetMs = loginExpiry + 1000 - Date.now();
      refused(await tokenGet('', authorization), 401, /has expired/);
    } finally {
      offsetMs = 0;
    }
  });

  it('refuses wrong credentials and anything but a login with 401, and hostile parameters with 400: nothing issued', async () => {
    refused(await tokenGet('', `Basic ${Buffer.from('AWS:not-a-token').toString('base64')}`), 401);
    refused(await tokenGet('', `Basic ${Buffer.from('admin:secret').toString('base64')}`), 401);
    refused(await tokenGet('', `Bearer ${await tokenFor()}`), 401, /not a Bearer token/);
    refused(await tokenGet('', 'Negotiate abc'), 401);
    const scopes = (n: number) => Array.from({ length: n }, (_, i) => `scope=repository:r${i}:pull`).join('&');
    assert.equal((await tokenGet(`?${scopes(16)}`)).status, 200);
    refused(await tokenGet(`?${scopes(17)}`), 400, /more than 16 scopes/);
    refused(await tokenGet('?scope=repository'), 400, /type:name:actions/);
    refused(await tokenGet('?scope=repository:a"b:pull'), 400, /type:name:actions/);
    refused(await tokenGet(`?scope=repository:${'a'.repeat(300)}:pull`), 400);
    refused(await tokenGet(`?account=${'a'.repeat(2000)}`), 400, /longer than 1024/);
    refused(await tokenGet(`?${Array.from({ length: 33 }, (_, i) => `p${i}=1`).join('&')}`), 400, /more than 32 parameters/);
    refused(await tokenGet('?service=a"b'), 400, /service/);
    // Refused before the credentials are looked at: a good login with a bad query gets no token either.
    refused(await tokenGet(`?${scopes(17)}`, berth.authorization), 400);
    refused(await answer(await raw('/token', { method: 'PUT' })), 405);
    // /token's own 401 is ECR's Basic challenge; its realm quotes no hostile Host.
    const wrong = `Basic ${Buffer.from('AWS:not-a-token').toString('base64')}`;
    assert.equal(
      (await raw('/token', { headers: { authorization: wrong } })).headers.get('www-authenticate'),
      `Basic realm="${berth.host}",service="ecr.amazonaws.com"`,
    );
    for (const host of HOSTILE_HOSTS)
      assert.deepEqual(
        await challengeFor(berth.port, host, '/token', wrong),
        { status: 401, challenge: 'Basic realm="localhost",service="ecr.amazonaws.com"' },
        host,
      );
    assert.equal((await raw('/token/', {})).status, 200, "public.ecr.aws's /token/ answers too");
  });
});

describe('v2Challenge basic', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_V2_CHALLENGE: 'basic' } });
  });
  after(async () => berth?.cleanup());

  it("answers ECR's Basic challenge, and still takes Bearer tokens from the endpoint", async () => {
    const r = await fetch(`${berth.url}/v2/`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Basic realm="${berth.host}",service="ecr.amazonaws.com"`);
    for (const host of HOSTILE_HOSTS)
      assert.deepEqual(await challengeFor(berth.port, host, '/v2/'), { status: 401, challenge: 'Basic realm="localhost",service="ecr.amazonaws.com"' }, host);
    const a = await answer(await fetch(`${berth.url}/token`, { headers: { authorization: berth.authorization } }));
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { authorization: `Bearer ${a.json.token}` } })).status, 200);
  });
});
