/** Contract: customer managed policies and their versions (see customer-policies.ts, contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, newRole, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const ARN = `arn:aws:iam::${ACCOUNT}:policy/team/pull`;
const policy = (name: string, extra: object = {}) => ({
  accountId: ACCOUNT,
  name,
  policyId: `ANPA${name.toUpperCase().padEnd(17, 'X')}`,
  path: '/team/',
  description: 'd',
  tags: [{ Key: 'team', Value: 'blue' }],
  document: '{"v":1}',
  now: at(1),
  ...extra,
});

export function customerPoliciesContract(test: ContractTest): void {
  test('customer policies: create once with v1 the default, versions numbered on, at most `max`, the default kept', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    assert.equal(await a.customerPolicies.create(policy('pull')), true);
    assert.equal(await b.customerPolicies.create(policy('pull', { policyId: 'ANPAOTHER' })), false, 'a name is taken once per account');
    await a.customerPolicies.create(policy('build', { path: '/' }));
    const { document: _, now: __, ...stored } = policy('pull');
    assert.deepEqual(await b.customerPolicies.get(ACCOUNT, 'pull'), { ...stored, defaultVersion: 1, createdAt: at(1), updatedAt: at(1) });
    assert.deepEqual(
      (await b.customerPolicies.list(ACCOUNT)).map((p) => p.name),
      ['build', 'pull'],
    );
    assert.equal(await b.customerPolicies.defaultDocument(ACCOUNT, 'pull'), '{"v":1}');

    assert.equal(await a.customerPolicies.addVersion(ACCOUNT, 'pull', '{"v":2}', false, 3, at(2)), 2);
    assert.equal(await a.customerPolicies.addVersion(ACCOUNT, 'pull', '{"v":3}', true, 3, at(3)), 3);
    assert.equal(await b.customerPolicies.addVersion(ACCOUNT, 'pull', '{"v":4}', true, 3, at(4)), 'limit');
    assert.equal(await b.customerPolicies.addVersion(ACCOUNT, 'ghost', '{}', true, 3, at(4)), undefined);
    const got = await b.customerPolicies.get(ACCOUNT, 'pull');
    assert.deepEqual([got?.defaultVersion, got?.updatedAt], [3, at(3)]);
    assert.equal(await b.customerPolicies.defaultDocument(ACCOUNT, 'pull'), '{"v":3}');

    assert.equal(await a.customerPolicies.deleteVersion(ACCOUNT, 'pull', 3), false, 'not the default');
    assert.equal(await a.customerPolicies.deleteVersion(ACCOUNT, 'pull', 2), true);
    assert.equal(await a.customerPolicies.deleteVersion(ACCOUNT, 'pull', 2), false);
    assert.equal(await a.customerPolicies.addVersion(ACCOUNT, 'pull', '{"v":4}', false, 3, at(5)), 4, 'a number is never used again');
    assert.deepEqual(
      (await b.customerPolicies.versions(ACCOUNT, 'pull')).map((v) => [v.version, v.document, v.createdAt]),
      [
        [1, '{"v":1}', at(1)],
        [3, '{"v":3}', at(3)],
        [4, '{"v":4}', at(5)],
      ],
    );
    assert.equal(await a.customerPolicies.setDefaultVersion(ACCOUNT, 'pull', 2, at(6)), false, 'a deleted version');
    assert.equal(await a.customerPolicies.setDefaultVersion(ACCOUNT, 'pull', 1, at(6)), true);
    assert.equal(await b.customerPolicies.defaultDocument(ACCOUNT, 'pull'), '{"v":1}');

    assert.equal(await a.customerPolicies.changeTags(ACCOUNT, 'pull', { add: [{ Key: 'Team', Value: 'web' }], remove: [], max: 50 }), true);
    assert.equal(await b.customerPolicies.changeTags(ACCOUNT, 'pull', { add: [{ Key: 'team', Value: 'db' }], remove: [], max: 50 }), true);
    assert.deepEqual((await a.customerPolicies.get(ACCOUNT, 'pull'))?.tags, [{ Key: 'team', Value: 'db' }], 'one key in any case');
    const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: '' }));
    assert.equal(await a.customerPolicies.changeTags(ACCOUNT, 'pull', { add: many, remove: [], max: 50 }), 'limit');
    assert.deepEqual((await b.customerPolicies.get(ACCOUNT, 'pull'))?.tags, [{ Key: 'team', Value: 'db' }], 'refused past the limit, nothing changed');
    assert.equal(await a.customerPolicies.changeTags(ACCOUNT, 'nobody', { add: [], remove: [], max: 50 }), false);
    assert.equal(await a.customerPolicies.changeTags(ACCOUNT, 'pull', { add: [], remove: ['TEAM'], max: 50 }), true);
    assert.deepEqual((await b.customerPolicies.get(ACCOUNT, 'pull'))?.tags, []);
    assert.equal(await a.customerPolicies.delete(ACCOUNT, 'pull'), true);
    assert.equal(await b.customerPolicies.get(ACCOUNT, 'pull'), undefined);
    assert.deepEqual(await b.customerPolicies.versions(ACCOUNT, 'pull'), [], 'its versions went with it');
    assert.equal(await a.customerPolicies.create(policy('pull', { policyId: 'ANPAAGAIN' })), true, 'the name is free again');
    assert.deepEqual(
      (await b.customerPolicies.versions(ACCOUNT, 'pull')).map((v) => v.version),
      [1],
    );
  });

  test("customer policies: usage counts the account's attachments (users, roles, groups) and boundaries", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.identities.createAccount({ id: '210987654321', name: 'other', now: at(0) });
    await a.customerPolicies.create(policy('pull'));
    assert.deepEqual(await b.customerPolicies.usage(ACCOUNT, ARN), { attachments: 0, boundaries: 0 });
    const user = (accountId: string, name: string, boundary?: string) => ({
      accountId,
      name,
      userId: `AIDA${name.toUpperCase().padEnd(17, 'X')}`,
      path: '/',
      ...(boundary && { permissionsBoundary: boundary }),
      now: at(1),
    });
    await a.identities.createUser(user(ACCOUNT, 'u1'));
    await a.identities.createUser(user(ACCOUNT, 'u2', ARN));
    await a.identities.putUserPolicy(ACCOUNT, 'u1', { kind: 'managed', name: ARN });
    await a.roles.createRole(newRole('r1', { permissionsBoundary: ARN }));
    await a.roles.putRolePolicy(ACCOUNT, 'r1', { kind: 'managed', name: ARN });
    await a.groups.createGroup({ accountId: ACCOUNT, name: 'g1', groupId: 'AGPAG1XXXXXXXXXXXXX', path: '/', now: at(1) });
    await a.groups.putGroupPolicy(ACCOUNT, 'g1', { kind: 'managed', name: ARN });
    // The same ARN in another account (which cannot name this account's policy) is not counted.
    await a.identities.createUser(user('210987654321', 'u3', ARN));
    assert.deepEqual(await b.customerPolicies.usage(ACCOUNT, ARN), { attachments: 3, boundaries: 2 });
  });

  test('customer policies: DeletePolicy and an attachment are ordered: one attached is not deleted, one deleted is not attached', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.customerPolicies.create(policy('pull'));
    await a.identities.createUser({ accountId: ACCOUNT, name: 'u1', userId: 'AIDAU1XXXXXXXXXXXXX', path: '/', now: at(1) });
    await a.roles.createRole(newRole('r1'));
    await a.groups.createGroup({ accountId: ACCOUNT, name: 'g1', groupId: 'AGPAG1XXXXXXXXXXXXX', path: '/', now: at(1) });

    assert.equal(await a.identities.attachCustomerPolicy(ACCOUNT, 'u1', ARN), true);
    assert.equal(await b.identities.attachCustomerPolicy(ACCOUNT, 'u1', ARN), true, 'again: there already, still true');
    assert.equal(await a.identities.attachCustomerPolicy(ACCOUNT, 'u1', `arn:aws:iam::${ACCOUNT}:policy/pull`), false, 'another path names no policy');
    assert.equal(await a.identities.attachCustomerPolicy(ACCOUNT, 'u1', 'arn:aws:iam::210987654321:policy/team/pull'), false, "another account's");
    assert.deepEqual(await b.identities.userPolicies(ACCOUNT, 'u1'), [{ kind: 'managed', name: ARN }]);
    assert.equal(await b.customerPolicies.deleteIfUnused(ACCOUNT, 'pull', ARN), 'attached');
    await a.identities.deleteUserPolicy(ACCOUNT, 'u1', 'managed', ARN);
    assert.equal(await a.identities.setUserCustomerBoundary(ACCOUNT, 'u1', `arn:aws:iam::${ACCOUNT}:policy/pull`), false, 'another path names no policy');
    assert.equal(await a.identities.setUserCustomerBoundary(ACCOUNT, 'ghost', ARN), false, 'no such user');
    assert.equal(await a.identities.setUserCustomerBoundary(ACCOUNT, 'u1', ARN), true);
    assert.equal((await b.identities.user(ACCOUNT, 'u1'))?.permissionsBoundary, ARN);
    assert.equal(await b.customerPolicies.deleteIfUnused(ACCOUNT, 'pull', ARN), 'attached', 'a boundary is a use');
    await a.identities.setUserBoundary(ACCOUNT, 'u1', null);
    await a.customerPolicies.addVersion(ACCOUNT, 'pull', '{"v":2}', false, 5, at(2));
    assert.equal(await b.customerPolicies.deleteIfUnused(ACCOUNT, 'pull', ARN), 'versions');
    await a.customerPolicies.deleteVersion(ACCOUNT, 'pull', 2);
    assert.equal(await b.customerPolicies.deleteIfUnused(ACCOUNT, 'pull', ARN), 'deleted');
    assert.equal(await b.customerPolicies.deleteIfUnused(ACCOUNT, 'pull', ARN), undefined);
    assert.equal(await a.identities.attachCustomerPolicy(ACCOUNT, 'u1', ARN), false);
    assert.equal(await a.roles.attachCustomerPolicy(ACCOUNT, 'r1', ARN), false);
    assert.equal(await a.groups.attachCustomerPolicy(ACCOUNT, 'g1', ARN), false);
    assert.equal(await a.identities.setUserCustomerBoundary(ACCOUNT, 'u1', ARN), false);
    assert.equal(await a.roles.setRoleCustomerBoundary(ACCOUNT, 'r1', ARN), false);
    const bounded = (name: string, arn: string) => ({ accountId: ACCOUNT, name, userId: `AIDA${name}`, path: '/', permissionsBoundary: arn, now: at(3) });
    assert.equal(await a.identities.createUser(bounded('u2', ARN)), false, "a new user's boundary must exist");
    assert.equal(await b.identities.user(ACCOUNT, 'u2'), undefined);
    assert.equal(await a.roles.createRole(newRole('r2', { permissionsBoundary: ARN })), false, "a new role's too");
    assert.equal(
      await a.identities.createUser(bounded('u2', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly')),
      true,
      "AWS's are the caller's to check",
    );
    assert.deepEqual(await b.customerPolicies.usage(ACCOUNT, ARN), { attachments: 0, boundaries: 0 });

    // Racing, from two nodes: never both an attachment (or a boundary) and a delete.
    const attachers = [
      (arn: string) => a.identities.attachCustomerPolicy(ACCOUNT, 'u1', arn),
      (arn: string) => a.roles.attachCustomerPolicy(ACCOUNT, 'r1', arn),
      (arn: string) => a.groups.attachCustomerPolicy(ACCOUNT, 'g1', arn),
      (arn: string) => a.identities.setUserCustomerBoundary(ACCOUNT, 'u1', arn),
      (arn: string) => a.roles.setRoleCustomerBoundary(ACCOUNT, 'r1', arn),
      (arn: string) => a.identities.createUser(bounded(`new${arn.slice(-2)}`, arn)),
      (arn: string) => a.roles.createRole(newRole(`new${arn.slice(-2)}`, { permissionsBoundary: arn })),
    ];
    for (let i = 10; i < 24; i++) {
      const name = `race${i}`;
      const arn = `arn:aws:iam::${ACCOUNT}:policy/team/${name}`;
      await a.customerPolicies.create(policy(name, { policyId: `ANPARACE${i}` }));
      const [attached, deleted] = await Promise.all([attachers[i % attachers.length]!(arn), b.customerPolicies.deleteIfUnused(ACCOUNT, name, arn)]);
      assert.notEqual(attached && deleted === 'deleted', true, `${name}: attached and deleted`);
      assert.equal(attached ? 'attached' : 'deleted', deleted);
      const uses = await b.customerPolicies.usage(ACCOUNT, arn);
      assert.equal(uses.attachments + uses.boundaries, attached ? 1 : 0, `${name}: no use outlives its policy`);
    }
  });
}
