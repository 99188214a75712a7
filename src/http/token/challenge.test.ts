/** The /v2 challenge: its realm, service and scope, and what a hostile Host or path cannot put in it. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { basicChallenge, scopeOf, serviceHost, tokenRealm, v2Challenge } from './challenge.js';

/** A request as the challenge reads it: Host, method, and a plain (not TLS) socket. */
const req = (host: string | undefined, method = 'GET') => ({ headers: host === undefined ? {} : { host }, method, socket: {} }) as unknown as IncomingMessage;

describe('the /v2 challenge', () => {
  it('names the token endpoint on the host the client reached, with the scope the request needs', () => {
    assert.equal(
      v2Challenge(req('reg.example:5000'), 'team/app/manifests/v1', 'bearer', undefined),
      'Bearer realm="http://reg.example:5000/token",service="reg.example:5000",scope="repository:team/app:pull"',
    );
    assert.equal(v2Challenge(req('reg.example'), '', 'bearer', undefined), 'Bearer realm="http://reg.example/token",service="reg.example"');
    assert.equal(v2Challenge(req('[::1]:5000'), '', 'bearer', undefined), 'Bearer realm="http://[::1]:5000/token",service="[::1]:5000"');
    assert.equal(v2Challenge(req('h'), '', 'basic', undefined), 'Basic realm="h",service="ecr.amazonaws.com"');
  });

  it('names an https realm behind a TLS proxy (X-Forwarded-Proto), and never downgrades a TLS request', () => {
    const behind = (proto: string | string[]) =>
      ({ ...req('reg.example'), headers: { host: 'reg.example', 'x-forwarded-proto': proto } }) as unknown as IncomingMessage;
    assert.equal(tokenRealm(behind('https'), undefined), 'https://reg.example/token');
    assert.equal(tokenRealm(behind('HTTPS, http'), undefined), 'https://reg.example/token');
    assert.equal(tokenRealm(behind('http'), undefined), 'http://reg.example/token');
    const tls = { headers: { host: 'reg.example', 'x-forwarded-proto': 'http' }, method: 'GET', socket: { encrypted: true } } as unknown as IncomingMessage;
    assert.equal(tokenRealm(tls, undefined), 'https://reg.example/token');
  });

  it('asks pull for reads, pull,push for anything else, and the catalog for the catalog', () => {
    assert.equal(scopeOf(req('h', 'HEAD'), 'a/b/blobs/sha256:00'), 'repository:a/b:pull');
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(scopeOf(req('h', m), 'a/blobs/uploads/'), 'repository:a:pull,push');
    assert.equal(scopeOf(req('h'), '_catalog'), 'registry:catalog:*');
    assert.equal(scopeOf(req('h'), ''), undefined);
    assert.equal(scopeOf(req('h'), 'not-a-route'), undefined);
  });

  it('quotes nothing a client chose beyond a plain host and a repository name', () => {
    for (const host of ['evil" , realm="http://x', 'a b', `${'a'.repeat(300)}`, 'h:port'])
      assert.equal(serviceHost(req(host), undefined), 'localhost', JSON.stringify(host));
    assert.equal(serviceHost(req('bad"host'), 'registry.example'), 'registry.example');
    // The Basic challenge's realm follows the same rule as the Bearer one's service.
    for (const host of ['evil" , realm="http://x', 'a b', 'a,b'])
      assert.equal(basicChallenge(req(host), undefined), 'Basic realm="localhost",service="ecr.amazonaws.com"', JSON.stringify(host));
    assert.equal(v2Challenge(req('x", y'), '', 'basic', 'registry.example'), 'Basic realm="registry.example",service="ecr.amazonaws.com"');
    assert.equal(basicChallenge(req(undefined), undefined), 'Basic realm="localhost",service="ecr.amazonaws.com"');
    assert.equal(tokenRealm(req(undefined), undefined), 'http://localhost/token');
    for (const path of ['A/B/manifests/v1', 'a%22b/manifests/v1', `${'a'.repeat(300)}/manifests/v1`, '%zz/manifests/v1'])
      assert.equal(scopeOf(req('h'), path), undefined, path);
  });
});
