/**
 * Contract: IAM names without regard to case (iam-names.ts, migration 28). A name is taken in an
 * account in any case; users, roles and groups are found by any case with the case they were made
 * in; customer policies, named by ARN, are found by their exact name only. And a database that
 * already held names differing only in case (before migration 28) still migrates.
 */
import assert from 'node:assert/strict';
import { at, newRole, type ContractTest } from './contract-fixtures.js';
import type { MetadataStore } from './types.js';

const ACCOUNT = '123456789012';
const OTHER = '210987654321';
const user = (name: string, accountId = ACCOUNT) => ({ accountId, name, userId: `AIDA${name}${accountId}`, path: '/', now: at(1) });
const role = (name: string) => newRole(name, { roleId: `AROA${name}` });
const group = (name: string) => ({ accountId: ACCOUNT, name, groupId: `AGPA${name}`, path: '/', now: at(1) });
const policy = (name: string) => ({ accountId: ACCOUNT, name, policyId: `ANPA${name}`, path: '/', description: '', tags: [], document: '{}', now: at(1) });

export function iamNamesContract(test: ContractTest): void {
  test('IAM names: taken in any case, per account; users, roles and groups found in any case as made', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.identities.createAccount({ id: OTHER, name: 'other', now: at(0) });

    assert.equal(await a.identities.createUser(user('Bob')), true);
    assert.equal(await b.identities.createUser(user('bob')), false, 'bob beside Bob');
    assert.equal(await b.identities.createUser(user('BOB')), false, 'BOB beside Bob');
    assert.equal(await b.identities.createUser(user('bob', OTHER)), true, 'another account has its own names');
    assert.equal((await b.identities.user(ACCOUNT, 'bOB'))?.name, 'Bob');
    assert.equal((await b.identities.user(OTHER, 'BOB'))?.name, 'bob');
    assert.deepEqual(
      (await b.identities.listUsers(ACCOUNT)).map((u) => u.name),
      ['Bob'],
    );

    assert.equal(await a.roles.createRole(role('Deploy')), true);
    assert.equal(await b.roles.createRole(role('deploy')), false);
    assert.equal((await b.roles.role(ACCOUNT, 'DEPLOY'))?.name, 'Deploy');

    assert.equal(await a.groups.createGroup(group('Admins')), true);
    assert.equal(await b.groups.createGroup(group('ADMINS')), false);
    assert.equal((await b.groups.group(ACCOUNT, 'admins'))?.name, 'Admins');

    assert.equal(await a.customerPolicies.create(policy('Pull')), true);
    assert.equal(await b.customerPolicies.create(policy('PULL')), false);
    assert.equal((await b.customerPolicies.get(ACCOUNT, 'Pull'))?.name, 'Pull');
    assert.equal(await b.customerPolicies.get(ACCOUNT, 'pull'), undefined, 'a policy is named by its ARN, exactly');

    // Deleted, the name is free again in any case.
    assert.equal(await a.identities.deleteUser(ACCOUNT, 'Bob'), true);
    assert.equal(await b.identities.user(ACCOUNT, 'bob'), undefined);
    assert.equal(await b.identities.createUser(user('bob')), true);
    assert.equal((await a.identities.user(ACCOUNT, 'BOB'))?.name, 'bob');
  });

  test('IAM names: two nodes creating one name in two cases at once make one', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    for (let i = 0; i < 5; i++) {
      const made = await Promise.all([a.identities.createUser(user(`race${i}`)), b.identities.createUser(user(`RACE${i}`))]);
      assert.equal(made.filter(Boolean).length, 1, `one of race${i}/RACE${i}`);
      const groups = await Promise.all([a.groups.createGroup(group(`g${i}`)), b.groups.createGroup(group(`G${i}`))]);
      assert.equal(groups.filter(Boolean).length, 1);
    }
  });
}

/** Rows an older Berth could hold: names of one account differing only in case, the lower-case one older. */
export const LEGACY_TWINS_SQL = [
  `INSERT INTO accounts (id, name, created_at) VALUES ('${ACCOUNT}', 'main', 0)`,
  `INSERT INTO users (account_id, name, user_id, path, created_at) VALUES ('${ACCOUNT}', 'bob', 'AIDA1', '/', 1), ('${ACCOUNT}', 'Bob', 'AIDA2', '/', 2)`,
  `INSERT INTO user_policies (account_id, user_name, kind, name, document) VALUES ('${ACCOUNT}', 'Bob', 'inline', 'p', '{"of":"Bob"}')`,
  `INSERT INTO roles (account_id, name, role_id, path, trust_policy, description, max_session_duration, tags, created_at)
     VALUES ('${ACCOUNT}', 'ops', 'AROA1', '/', '{}', '', 3600, '[]', 1), ('${ACCOUNT}', 'OPS', 'AROA2', '/', '{}', '', 3600, '[]', 2)`,
  `INSERT INTO iam_groups (account_id, name, group_id, path, created_at) VALUES ('${ACCOUNT}', 'devs', 'AGPA1', '/', 1), ('${ACCOUNT}', 'Devs', 'AGPA2', '/', 2)`,
  `INSERT INTO customer_policies (account_id, name, policy_id, path, description, default_version, next_version, tags, created_at, updated_at)
     VALUES ('${ACCOUNT}', 'pull', 'ANPA1', '/', '', 1, 2, '[]', 1, 1), ('${ACCOUNT}', 'PULL', 'ANPA2', '/', '', 1, 2, '[]', 2, 2)`,
];

/** What a store migrated over LEGACY_TWINS_SQL must do: both twins kept, each found by its exact name, the older by any other case, no third. */
export async function checkLegacyTwins(s: MetadataStore): Promise<void> {
  assert.deepEqual(
    (await s.identities.listUsers(ACCOUNT)).map((u) => u.name),
    ['Bob', 'bob'],
  );
  assert.equal((await s.identities.user(ACCOUNT, 'bob'))?.userId, 'AIDA1');
  assert.deepEqual((await s.identities.user(ACCOUNT, 'bob'))?.tags, [], 'a user from before migration 29 has no tags');
  assert.equal((await s.identities.user(ACCOUNT, 'Bob'))?.userId, 'AIDA2', 'the younger twin by its exact name');
  assert.equal((await s.identities.user(ACCOUNT, 'BOB'))?.userId, 'AIDA1', 'any other case finds the older');
  assert.deepEqual(await s.identities.userPolicies(ACCOUNT, 'Bob'), [{ kind: 'inline', name: 'p', document: '{"of":"Bob"}' }]);
  assert.deepEqual(await s.identities.userPolicies(ACCOUNT, 'bob'), [], "one twin's policies are not the other's");
  assert.equal(await s.identities.createUser(user('BOB')), false, 'no third');
  assert.equal((await s.roles.role(ACCOUNT, 'Ops'))?.roleId, 'AROA1');
  assert.equal((await s.roles.role(ACCOUNT, 'OPS'))?.roleId, 'AROA2');
  assert.equal(await s.roles.createRole(role('oPs')), false);
  assert.equal((await s.groups.group(ACCOUNT, 'DEVS'))?.groupId, 'AGPA1');
  assert.equal(await s.groups.createGroup(group('DEVS')), false);
  assert.equal(await s.customerPolicies.create(policy('Pull')), false);
  // With the older twin gone, the younger (which has no key) still holds the name.
  assert.equal(await s.identities.deleteUser(ACCOUNT, 'bob'), true);
  assert.equal((await s.identities.user(ACCOUNT, 'Bob'))?.userId, 'AIDA2');
  assert.equal(await s.identities.createUser(user('BOB')), false, 'still no second');
}
