/** Contract: IAM roles, their policies and OIDC providers (see roles.ts, contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const role = (name: string, extra: object = {}) => ({
  accountId: ACCOUNT,
  name,
  roleId: `AROA${name.toUpperCase().padEnd(17, 'X')}`,
  path: '/',
  trustPolicy: '{"Statement":[]}',
  description: '',
  maxSessionDuration: 3600,
  tags: [{ Key: 'team', Value: 'blue' }],
  now: at(1),
  ...extra,
});

export function rolesContract(test: ContractTest): void {
  test('roles: create once, read, list in name order, update, delete with their policies', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    assert.equal(await a.roles.createRole(role('pusher', { path: '/ci/' })), true);
    assert.equal(await b.roles.createRole(role('pusher', { roleId: 'AROAOTHER' })), false, 'a name is taken once per account');
    await a.roles.createRole(role('builder'));
    const got = await b.roles.role(ACCOUNT, 'pusher');
    const { now: _, ...stored } = role('pusher', { path: '/ci/' });
    assert.deepEqual(got, { ...stored, createdAt: at(1) });
    assert.deepEqual(
      (await b.roles.listRoles(ACCOUNT)).map((r) => r.name),
      ['builder', 'pusher'],
    );
    assert.equal(await a.roles.updateRole(ACCOUNT, 'pusher', { maxSessionDuration: 43200, description: 'd' }), true);
    const updated = await b.roles.role(ACCOUNT, 'pusher');
    assert.deepEqual([updated?.maxSessionDuration, updated?.description, updated?.trustPolicy], [43200, 'd', '{"Statement":[]}']);
    assert.equal(await a.roles.updateRole(ACCOUNT, 'ghost', { description: 'x' }), false);

    await a.roles.putRolePolicy(ACCOUNT, 'pusher', { kind: 'inline', name: 'p', document: '{"v":1}' });
    await a.roles.putRolePolicy(ACCOUNT, 'pusher', { kind: 'inline', name: 'p', document: '{"v":2}' });
    await a.roles.putRolePolicy(ACCOUNT, 'pusher', { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' });
    assert.deepEqual(await b.roles.rolePolicies(ACCOUNT, 'pusher'), [
      { kind: 'inline', name: 'p', document: '{"v":2}' },
      { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' },
    ]);
    assert.equal(await a.roles.deleteRolePolicy(ACCOUNT, 'pusher', 'managed', 'arn:aws:iam::aws:policy/X'), true);
    assert.equal(await a.roles.deleteRolePolicy(ACCOUNT, 'pusher', 'managed', 'arn:aws:iam::aws:policy/X'), false);
    assert.equal(await a.roles.deleteRole(ACCOUNT, 'pusher'), true);
    assert.equal(await b.roles.role(ACCOUNT, 'pusher'), undefined);
    // Created again, it starts with no policies.
    await a.roles.createRole(role('pusher', { roleId: 'AROANEW' }));
    assert.deepEqual(await b.roles.rolePolicies(ACCOUNT, 'pusher'), []);
  });

  test('roles: OIDC providers keyed by account and URL', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    const p = { accountId: ACCOUNT, url: 'https://token.example.com', clientIds: ['sts.amazonaws.com'], thumbprints: [], now: at(2) };
    assert.equal(await a.roles.createOidcProvider(p), true);
    assert.equal(await b.roles.createOidcProvider(p), false);
    assert.deepEqual(await b.roles.oidcProvider(ACCOUNT, p.url), { accountId: ACCOUNT, url: p.url, clientIds: p.clientIds, thumbprints: [], createdAt: at(2) });
    assert.deepEqual(
      (await b.roles.listOidcProviders(ACCOUNT)).map((x) => x.url),
      [p.url],
    );
    assert.equal(await a.roles.deleteOidcProvider(ACCOUNT, p.url), true);
    assert.equal(await b.roles.oidcProvider(ACCOUNT, p.url), undefined);
  });
}
