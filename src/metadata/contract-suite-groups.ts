/** Contract: IAM groups, their members and policies (see groups.ts, contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const group = (name: string, extra: object = {}) => ({
  accountId: ACCOUNT,
  name,
  groupId: `AGPA${name.toUpperCase().padEnd(17, 'X')}`,
  path: '/',
  now: at(1),
  ...extra,
});
const user = (name: string) => ({ accountId: ACCOUNT, name, userId: `AIDA${name.toUpperCase().padEnd(17, 'X')}`, path: '/', now: at(1) });

export function groupsContract(test: ContractTest): void {
  test('groups: create once, members both ways, policies, delete with its rows', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    assert.equal(await a.groups.createGroup(group('devs', { path: '/eng/' })), true);
    assert.equal(await b.groups.createGroup(group('devs', { groupId: 'AGPAOTHER' })), false, 'a name is taken once per account');
    await a.groups.createGroup(group('admins'));
    const { now: _, ...stored } = group('devs', { path: '/eng/' });
    assert.deepEqual(await b.groups.group(ACCOUNT, 'devs'), { ...stored, createdAt: at(1) });
    assert.deepEqual(
      (await b.groups.listGroups(ACCOUNT)).map((g) => g.name),
      ['admins', 'devs'],
    );
    await a.identities.createUser(user('carol'));
    await a.identities.createUser(user('bob'));
    await a.groups.addMember(ACCOUNT, 'devs', 'carol');
    await a.groups.addMember(ACCOUNT, 'devs', 'carol');
    await a.groups.addMember(ACCOUNT, 'devs', 'bob');
    await a.groups.addMember(ACCOUNT, 'admins', 'carol');
    assert.deepEqual(await b.groups.members(ACCOUNT, 'devs'), ['bob', 'carol']);
    assert.deepEqual(
      (await b.groups.groupsOf(ACCOUNT, 'carol')).map((g) => g.name),
      ['admins', 'devs'],
    );
    assert.equal(await a.groups.removeMember(ACCOUNT, 'admins', 'carol'), true);
    assert.equal(await a.groups.removeMember(ACCOUNT, 'admins', 'carol'), false);

    await a.groups.putGroupPolicy(ACCOUNT, 'devs', { kind: 'inline', name: 'p', document: '{"v":1}' });
    await a.groups.putGroupPolicy(ACCOUNT, 'devs', { kind: 'inline', name: 'p', document: '{"v":2}' });
    await a.groups.putGroupPolicy(ACCOUNT, 'devs', { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' });
    assert.deepEqual(await b.groups.groupPolicies(ACCOUNT, 'devs'), [
      { kind: 'inline', name: 'p', document: '{"v":2}' },
      { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' },
    ]);
    assert.equal(await a.groups.deleteGroupPolicy(ACCOUNT, 'devs', 'managed', 'arn:aws:iam::aws:policy/X'), true);
    assert.equal(await a.groups.deleteGroupPolicy(ACCOUNT, 'devs', 'managed', 'arn:aws:iam::aws:policy/X'), false);

    assert.equal(await a.identities.deleteUser(ACCOUNT, 'bob'), true);
    assert.deepEqual(await b.groups.members(ACCOUNT, 'devs'), ['carol'], 'a deleted user leaves its groups');
    assert.equal(await a.groups.deleteGroup(ACCOUNT, 'devs'), true);
    assert.equal(await b.groups.group(ACCOUNT, 'devs'), undefined);
    assert.deepEqual(await b.groups.groupsOf(ACCOUNT, 'carol'), []);
    await a.groups.createGroup(group('devs', { groupId: 'AGPAAGAIN' }));
    assert.deepEqual(await b.groups.members(ACCOUNT, 'devs'), [], 'one made again under the name has no members');
    assert.deepEqual(await b.groups.groupPolicies(ACCOUNT, 'devs'), [], 'nor policies');
  });
}
