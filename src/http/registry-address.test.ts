import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRepositoryName } from '../core/names.js';
import { accountOfHost, v2Location, v2Target } from './registry-address.js';

const A = '111122223333';

describe('accountOfHost', () => {
  it('reads the account label under registryHost, ignoring case, port and a trailing dot', () => {
    assert.equal(accountOfHost(`${A}.registry.example:5000`, 'registry.example:5000'), A);
    assert.equal(accountOfHost(`${A}.Registry.Example.`, 'registry.example'), A);
    assert.equal(accountOfHost(`${A}.registry.example:443`, 'registry.example'), A);
  });
  it('names no account for the bare host, other hosts, IPv6 literals, or when registryHost is unset', () => {
    assert.equal(accountOfHost('registry.example:5000', 'registry.example:5000'), undefined);
    assert.equal(accountOfHost(`${A}.evil.example`, 'registry.example'), undefined);
    assert.equal(accountOfHost(`${A}registry.example`, 'registry.example'), undefined);
    assert.equal(accountOfHost('[::1]:5000', 'registry.example'), undefined);
    assert.equal(accountOfHost(`${A}.registry.example`, undefined), undefined);
    assert.equal(accountOfHost(undefined, 'registry.example'), undefined);
  });
  it('refuses a label that is not an account, and an overlong host', () => {
    for (const host of ['abc.registry.example', '12345.registry.example', `x.${A}.registry.example`, `${A}0.registry.example`]) {
      assert.throws(() => accountOfHost(host, 'registry.example'), /NOT_FOUND|no registry at this host/, host);
    }
    assert.throws(() => accountOfHost(`${'a'.repeat(300)}.registry.example`, 'registry.example'), /too long/);
  });
});

describe('v2Target', () => {
  it('takes the fallback prefix off the path, and keeps every other path whole', () => {
    assert.deepEqual(v2Target('h', `account--${A}/team/web/manifests/v1`, undefined), {
      accountId: A,
      path: 'team/web/manifests/v1',
      prefix: `account--${A}/`,
    });
    assert.deepEqual(v2Target('h', `account--${A}`, undefined), { accountId: A, path: '', prefix: `account--${A}/` });
    assert.deepEqual(v2Target('h', `${A}/tools/hello/manifests/v1`, undefined), { path: `${A}/tools/hello/manifests/v1` });
    assert.deepEqual(v2Target('h', 'account--12/x/manifests/v1', undefined), { path: 'account--12/x/manifests/v1' });
  });
  it('refuses an account named by both the host and the path', () => {
    assert.throws(() => v2Target(`${A}.r.example`, `account--${A}/x/tags/list`, 'r.example'), /both name an account/);
  });
});

describe('v2Location', () => {
  it("is the account's host under registryHost, else the request's host with the fallback for another account", () => {
    assert.deepEqual(v2Location(A, '000000000000', 'r.example:5000', 'ignored'), { host: `${A}.r.example:5000`, prefix: '' });
    assert.deepEqual(v2Location(A, A, undefined, 'localhost:5000'), { host: 'localhost:5000', prefix: '' });
    assert.deepEqual(v2Location(A, '000000000000', undefined, 'localhost:5000'), { host: 'localhost:5000', prefix: `account--${A}/` });
  });
  it('reserves the fallback prefix: no repository is named account--*', () => {
    assert.equal(isRepositoryName(`account--${A}/x`), false);
    assert.equal(isRepositoryName('account--x'), false);
    assert.equal(isRepositoryName('my-account--x/y'), true);
  });
});
