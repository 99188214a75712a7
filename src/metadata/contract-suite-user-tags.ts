/**
 * Contract: IAM users' tags (migration 29) and roles' (kept since roles came). Kept with the user
 * as created, read back with it (and in listings), changed by one atomic step (entity-tags.ts) — add (a key already there, in any case, takes the new
 * value), remove, refuse past the limit — so two nodes tagging one user at once both land and
 * never together pass the limit.
 */
import assert from 'node:assert/strict';
import { at, newRole, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';
const user = (name: string, tags?: Array<{ Key: string; Value: string }>) => ({
  accountId: ACCOUNT,
  name,
  userId: `AIDA${name}`,
  path: '/',
  ...(tags && { tags }),
  now: at(1),
});
const tags = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: `v${i}` }));

export function userTagsContract(test: ContractTest): void {
  test("users' tags: kept as created, read back on either node, changed in one step with IAM's rules", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    assert.equal(
      await a.identities.createUser(
        user('Tagged', [
          { Key: 'team', Value: 'web' },
          { Key: 'note', Value: '' },
        ]),
      ),
      true,
    );
    assert.equal(await a.identities.createUser(user('bare')), true);
    assert.deepEqual((await b.identities.user(ACCOUNT, 'tagged'))?.tags, [
      { Key: 'team', Value: 'web' },
      { Key: 'note', Value: '' },
    ]);
    assert.deepEqual((await b.identities.user(ACCOUNT, 'bare'))?.tags, []);
    assert.deepEqual(
      (await b.identities.listUsers(ACCOUNT)).map((u) => [u.name, u.tags.length]),
      [
        ['Tagged', 2],
        ['bare', 0],
      ],
    );

    assert.equal(
      await b.identities.changeUserTags(ACCOUNT, 'Tagged', {
        add: [
          { Key: 'TEAM', Value: 'db' },
          { Key: 'x', Value: '1' },
        ],
        remove: ['NOTE', 'absent'],
        max: 50,
      }),
      true,
    );
    assert.deepEqual((await a.identities.user(ACCOUNT, 'Tagged'))?.tags, [
      { Key: 'TEAM', Value: 'db' },
      { Key: 'x', Value: '1' },
    ]);

    assert.equal(await a.identities.changeUserTags(ACCOUNT, 'Tagged', { add: tags(49, 'k'), remove: [], max: 50 }), 'limit');
    assert.deepEqual((await b.identities.user(ACCOUNT, 'Tagged'))?.tags.length, 2, 'refused past the limit, nothing changed');
    assert.equal(
      await a.identities.changeUserTags(ACCOUNT, 'Tagged', { add: tags(48, 'k'), remove: [], max: 50 }),
      true,
      '50 in all is the limit, not past it',
    );

    assert.equal(await a.identities.changeUserTags(ACCOUNT, 'nobody', { add: [{ Key: 'a', Value: 'b' }], remove: [], max: 50 }), false);
    assert.equal(
      await a.identities.changeUserTags(ACCOUNT, 'BARE', { add: [{ Key: 'a', Value: 'b' }], remove: [], max: 50 }),
      false,
      'a user by its exact name',
    );
    assert.deepEqual((await a.identities.user(ACCOUNT, 'bare'))?.tags, []);
  });

  test("users' tags: two nodes tagging one user at once both land, and never together pass the limit", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.identities.createUser(user('racer'));
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => [
        a.identities.changeUserTags(ACCOUNT, 'racer', { add: [{ Key: `a${i}`, Value: 'a' }], remove: [], max: 50 }),
        b.identities.changeUserTags(ACCOUNT, 'racer', { add: [{ Key: `b${i}`, Value: 'b' }], remove: [], max: 50 }),
      ]).flat(),
    );
    assert.deepEqual((await a.identities.user(ACCOUNT, 'racer'))?.tags.map((t) => t.Key).sort(), [...tags(6, 'a'), ...tags(6, 'b')].map((t) => t.Key).sort());

    await a.identities.createUser(user('full', tags(48, 'k')));
    const outcomes = await Promise.all([
      a.identities.changeUserTags(ACCOUNT, 'full', { add: tags(2, 'x'), remove: [], max: 50 }),
      b.identities.changeUserTags(ACCOUNT, 'full', { add: tags(2, 'y'), remove: [], max: 50 }),
    ]);
    assert.deepEqual([...outcomes].sort(), ['limit', true].sort());
    assert.equal((await b.identities.user(ACCOUNT, 'full'))?.tags.length, 50);
  });

  test("roles' tags: changed in one step with IAM's rules (TagRole, UntagRole), by the role's exact name, never past the limit", async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    await a.roles.createRole(newRole('Deploy', { tags: [{ Key: 'team', Value: 'web' }] }));
    assert.equal(
      await b.roles.changeRoleTags(ACCOUNT, 'Deploy', {
        add: [
          { Key: 'TEAM', Value: 'db' },
          { Key: 'x', Value: '1' },
        ],
        remove: ['absent'],
        max: 50,
      }),
      true,
    );
    assert.deepEqual((await a.roles.role(ACCOUNT, 'deploy'))?.tags, [
      { Key: 'TEAM', Value: 'db' },
      { Key: 'x', Value: '1' },
    ]);
    assert.equal(await a.roles.changeRoleTags(ACCOUNT, 'Deploy', { add: [], remove: ['X'], max: 50 }), true);
    assert.deepEqual((await b.roles.role(ACCOUNT, 'Deploy'))?.tags, [{ Key: 'TEAM', Value: 'db' }]);
    assert.equal(await a.roles.changeRoleTags(ACCOUNT, 'Deploy', { add: tags(50, 'k'), remove: [], max: 50 }), 'limit');
    assert.deepEqual((await b.roles.role(ACCOUNT, 'Deploy'))?.tags.length, 1, 'refused past the limit, nothing changed');
    assert.equal(await a.roles.changeRoleTags(ACCOUNT, 'DEPLOY', { add: [{ Key: 'a', Value: 'b' }], remove: [], max: 50 }), false, 'a role by its exact name');
    assert.equal(await a.roles.changeRoleTags(ACCOUNT, 'nobody', { add: [{ Key: 'a', Value: 'b' }], remove: [], max: 50 }), false);

    const outcomes = await Promise.all([
      a.roles.changeRoleTags(ACCOUNT, 'Deploy', { add: tags(48, 'x'), remove: [], max: 50 }),
      b.roles.changeRoleTags(ACCOUNT, 'Deploy', { add: tags(48, 'y'), remove: [], max: 50 }),
    ]);
    assert.deepEqual([...outcomes].sort(), ['limit', true].sort(), 'two nodes at once: one lands, the other would pass the limit');
    assert.equal((await b.roles.role(ACCOUNT, 'Deploy'))?.tags.length, 49);
  });
}
