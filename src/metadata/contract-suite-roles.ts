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

  test('roles: the ids a trust policy names, kept with it and replaced with it, none for a role saved without', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    const ids = { 'arn:aws:iam::123456789012:user/bob': 'AIDABOB' };
    await a.roles.createRole(role('bound', { trustPrincipalIds: ids }));
    await a.roles.createRole(role('legacy'));
    assert.deepEqual((await b.roles.role(ACCOUNT, 'bound'))?.trustPrincipalIds, ids);
    assert.equal('trustPrincipalIds' in (await b.roles.role(ACCOUNT, 'legacy'))!, false, 'none is no key, not null');
    assert.equal(await a.roles.updateRole(ACCOUNT, 'bound', { description: 'd' }), true);
    assert.deepEqual((await b.roles.role(ACCOUNT, 'bound'))?.trustPrincipalIds, ids, 'kept by a change that is not the trust policy');
    await a.roles.updateRole(ACCOUNT, 'bound', { trustPolicy: '{"Statement":[1]}', trustPrincipalIds: {} });
    assert.deepEqual((await b.roles.role(ACCOUNT, 'bound'))?.trustPrincipalIds, {});
    await a.roles.updateRole(ACCOUNT, 'legacy', { trustPolicy: '{"Statement":[2]}', trustPrincipalIds: ids });
    assert.deepEqual(
      (await b.roles.listRoles(ACCOUNT)).map((r) => r.trustPrincipalIds),
      [{}, ids],
    );
  });

  test('permissions boundaries: set with the user or role, replaced, removed, gone with the row', async ({ a, b }) => {
    const pb = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.roles.createRole(role('bounded', { permissionsBoundary: pb }));
    await a.roles.createRole(role('free'));
    assert.equal((await b.roles.role(ACCOUNT, 'bounded'))?.permissionsBoundary, pb);
    assert.equal('permissionsBoundary' in (await b.roles.role(ACCOUNT, 'free'))!, false, 'none is no key, not null');
    assert.equal(await a.roles.setRoleBoundary(ACCOUNT, 'free', `${pb}X`), true);
    assert.equal((await b.roles.role(ACCOUNT, 'free'))?.permissionsBoundary, `${pb}X`);
    assert.equal(await a.roles.setRoleBoundary(ACCOUNT, 'bounded', null), true);
    assert.equal((await b.roles.listRoles(ACCOUNT)).find((r) => r.name === 'bounded')?.permissionsBoundary, undefined);
    assert.equal(await a.roles.setRoleBoundary(ACCOUNT, 'ghost', pb), false);

    const user = { accountId: ACCOUNT, name: 'u', userId: 'AIDAUSERXXXXXXXXXXX', path: '/', now: at(1) };
    await a.identities.createUser({ ...user, permissionsBoundary: pb });
    assert.equal((await b.identities.user(ACCOUNT, 'u'))?.permissionsBoundary, pb);
    assert.equal(await a.identities.setUserBoundary(ACCOUNT, 'u', null), true);
    assert.equal('permissionsBoundary' in (await b.identities.user(ACCOUNT, 'u'))!, false);
    assert.equal(await a.identities.setUserBoundary(ACCOUNT, 'u', pb), true);
    assert.equal((await b.identities.listUsers(ACCOUNT))[0]?.permissionsBoundary, pb);
    assert.equal(await a.identities.setUserBoundary(ACCOUNT, 'ghost', pb), false);
    await a.identities.deleteUser(ACCOUNT, 'u');
    await a.identities.createUser({ ...user, userId: 'AIDAUSERYYYYYYYYYYY' });
    assert.equal((await b.identities.user(ACCOUNT, 'u'))?.permissionsBoundary, undefined, 'a user created again starts without one');
  });

  test("managed policy usage: attachments and boundaries of an account's users and roles, counted in one read", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.identities.createAccount({ id: '210987654321', name: 'other', now: at(0) });
    const [x, y, z] = ['X', 'Y', 'Z'].map((n) => `arn:aws:iam::aws:policy/${n}`) as [string, string, string];
    const user = (name: string, accountId = ACCOUNT, boundary?: string) =>
      a.identities.createUser({
        accountId,
        name,
        userId: `AIDA${name.toUpperCase().padEnd(17, 'X')}`,
        path: '/',
        now: at(1),
        ...(boundary && { permissionsBoundary: boundary }),
      });
    await user('u1', ACCOUNT, y);
    await user('u2');
    await a.identities.putUserPolicy(ACCOUNT, 'u1', { kind: 'managed', name: x });
    await a.identities.putUserPolicy(ACCOUNT, 'u2', { kind: 'managed', name: x });
    await a.identities.putUserPolicy(ACCOUNT, 'u2', { kind: 'inline', name: z, document: '{}' });
    await a.roles.createRole(role('r1', { permissionsBoundary: y }));
    await a.roles.putRolePolicy(ACCOUNT, 'r1', { kind: 'managed', name: x });
    // Another account's uses are its own.
    await user('u3', '210987654321', z);
    await a.identities.putUserPolicy('210987654321', 'u3', { kind: 'managed', name: y });
    const byArn = async (accountId: string) =>
      Object.fromEntries((await b.identities.managedPolicyUsage(accountId)).map((u) => [u.arn, [u.attachments, u.boundaries]]));
    assert.deepEqual(await byArn(ACCOUNT), { [x]: [3, 0], [y]: [0, 2] }, 'an inline policy is no managed policy');
    assert.deepEqual(await byArn('210987654321'), { [y]: [1, 0], [z]: [0, 1] });
    await a.roles.deleteRole(ACCOUNT, 'r1');
    assert.deepEqual(await byArn(ACCOUNT), { [x]: [2, 0], [y]: [0, 1] }, "a deleted role's uses go with it");
    assert.deepEqual(await byArn('000000000000'), {});
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
