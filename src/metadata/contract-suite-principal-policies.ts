/** Contract: a principal's policies in one read (identities.principalPolicies; see identity-rows.ts). */
import assert from 'node:assert/strict';
import { at, newRole, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const arn = (name: string, path = '/', account = ACCOUNT) => `arn:aws:iam::${account}:policy${path}${name}`;
const AWS_MANAGED = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';

export function principalPoliciesContract(test: ContractTest): void {
  test("principal policies: a user's own, its groups', managed ones with their default documents, its boundary", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    const cp = (name: string, path = '/') =>
      a.customerPolicies.create({
        accountId: ACCOUNT,
        name,
        policyId: `ANPA${name}`,
        path,
        description: '',
        tags: [],
        document: `{"v":"${name}1"}`,
        now: at(1),
      });
    await cp('own');
    await cp('team', '/t/');
    await cp('cap');
    await a.customerPolicies.addVersion(ACCOUNT, 'team', '{"v":"team2"}', true, 5, at(2));
    await a.identities.createUser({ accountId: ACCOUNT, name: 'bob', userId: 'AIDABOB', path: '/', permissionsBoundary: arn('cap'), now: at(1) });
    await a.identities.createUser({ accountId: ACCOUNT, name: 'eve', userId: 'AIDAEVE', path: '/', now: at(1) });
    await a.identities.putUserPolicy(ACCOUNT, 'bob', { kind: 'inline', name: 'i', document: '{"v":"inline"}' });
    await a.identities.putUserPolicy(ACCOUNT, 'bob', { kind: 'managed', name: arn('own') });
    await a.identities.putUserPolicy(ACCOUNT, 'bob', { kind: 'managed', name: arn('gone') });
    await a.identities.putUserPolicy(ACCOUNT, 'eve', { kind: 'inline', name: 'i', document: '{"v":"eve"}' });
    for (const g of ['g1', 'g2']) {
      await a.groups.createGroup({ accountId: ACCOUNT, name: g, groupId: `AGPA${g}`, path: '/', now: at(1) });
      await a.groups.addMember(ACCOUNT, g, 'bob');
    }
    await a.groups.putGroupPolicy(ACCOUNT, 'g1', { kind: 'managed', name: arn('team', '/t/') });
    await a.groups.putGroupPolicy(ACCOUNT, 'g1', { kind: 'managed', name: arn('team') }); // the wrong path names nothing
    await a.groups.putGroupPolicy(ACCOUNT, 'g2', { kind: 'managed', name: AWS_MANAGED });
    await a.groups.putGroupPolicy(ACCOUNT, 'g2', { kind: 'inline', name: 'gi', document: '{"v":"g2"}' });

    const sorted = (rows: Awaited<ReturnType<typeof b.identities.principalPolicies>>) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(
      sorted(await b.identities.principalPolicies(ACCOUNT, 'user', 'bob')),
      [
        { kind: 'boundary', name: arn('cap'), managedDocument: '{"v":"cap1"}' },
        { kind: 'inline', name: 'gi', document: '{"v":"g2"}' },
        { kind: 'inline', name: 'i', document: '{"v":"inline"}' },
        { kind: 'managed', name: AWS_MANAGED },
        { kind: 'managed', name: arn('gone') },
        { kind: 'managed', name: arn('own'), managedDocument: '{"v":"own1"}' },
        { kind: 'managed', name: arn('team') },
        { kind: 'managed', name: arn('team', '/t/'), managedDocument: '{"v":"team2"}' },
      ]
        .map((r) => JSON.stringify(r))
        .sort(),
    );
    assert.deepEqual(await b.identities.principalPolicies(ACCOUNT, 'user', 'BOB'), [], 'a principal is named exactly');
    assert.deepEqual(await b.identities.principalPolicies(ACCOUNT, 'user', 'nobody'), []);
    assert.deepEqual(await b.identities.principalPolicies('210987654321', 'user', 'bob'), []);

    await a.roles.createRole(newRole('r', { permissionsBoundary: AWS_MANAGED }));
    await a.roles.putRolePolicy(ACCOUNT, 'r', { kind: 'managed', name: arn('own') });
    assert.deepEqual(sorted(await b.identities.principalPolicies(ACCOUNT, 'role', 'r')), [
      JSON.stringify({ kind: 'boundary', name: AWS_MANAGED }),
      JSON.stringify({ kind: 'managed', name: arn('own'), managedDocument: '{"v":"own1"}' }),
    ]);
    assert.deepEqual(await b.identities.principalPolicies(ACCOUNT, 'user', 'r'), [], 'a role is no user');
  });
}
