/** Contract: console passwords (login profiles) and console sessions, see contract-suite.ts. */
import assert from 'node:assert/strict';
import { at, type ContractTest } from './contract-fixtures.js';

const ACCOUNT = '123456789012';

export function consoleContract(test: ContractTest): void {
  test('login profiles: one per existing user, partial updates, gone with the user', async ({ a, b }) => {
    await a.identities.createAccount({ id: ACCOUNT, name: 'main', now: at(0) });
    const profile = { accountId: ACCOUNT, userName: 'alice', passwordHash: 'h1', passwordResetRequired: true, now: at(1) };
    assert.equal(await a.loginProfiles.create(profile), false, 'no profile for a user that does not exist');
    await a.identities.createUser({ accountId: ACCOUNT, name: 'alice', userId: 'AIDAALICE', path: '/', now: at(1) });
    assert.equal(await a.loginProfiles.create(profile), true);
    assert.equal(await b.loginProfiles.create({ ...profile, passwordHash: 'h2' }), false, 'created once');
    const got = (await b.loginProfiles.get(ACCOUNT, 'alice'))!;
    assert.deepEqual(
      { hash: got.passwordHash, reset: got.passwordResetRequired, created: got.createdAt.getTime() },
      { hash: 'h1', reset: true, created: at(1).getTime() },
    );
    assert.equal(await b.loginProfiles.update(ACCOUNT, 'alice', { passwordResetRequired: false, now: at(2) }), true);
    assert.equal((await a.loginProfiles.get(ACCOUNT, 'alice'))!.passwordHash, 'h1', 'what is not given is kept');
    assert.equal(await b.loginProfiles.update(ACCOUNT, 'alice', { passwordHash: 'h3', now: at(3) }), true);
    const changed = (await a.loginProfiles.get(ACCOUNT, 'alice'))!;
    assert.deepEqual(
      { hash: changed.passwordHash, reset: changed.passwordResetRequired, updated: changed.updatedAt.getTime() },
      { hash: 'h3', reset: false, updated: at(3).getTime() },
    );
    assert.equal(await a.loginProfiles.update(ACCOUNT, 'bob', { passwordHash: 'x', now: at(3) }), false);

    assert.equal(await a.identities.deleteUser(ACCOUNT, 'alice'), true);
    assert.equal(await b.loginProfiles.get(ACCOUNT, 'alice'), undefined, 'a deleted user takes its profile');
    await a.identities.createUser({ accountId: ACCOUNT, name: 'alice', userId: 'AIDAALICE2', path: '/', now: at(4) });
    assert.equal(await a.loginProfiles.get(ACCOUNT, 'alice'), undefined, 'a user made again has none');
    assert.equal(await a.loginProfiles.create(profile), true);
    assert.equal(await b.loginProfiles.delete(ACCOUNT, 'alice'), true);
    assert.equal(await a.loginProfiles.delete(ACCOUNT, 'alice'), false);
  });

  test('console sessions: seen by every node, touched forward only, purged when expired or idle', async ({ a, b }) => {
    const session = (idHash: string, created: number, expires: number) => ({
      idHash,
      accountId: ACCOUNT,
      basis: '{"kind":"key","accessKeyId":"AKIAEXAMPLE"}',
      createdAt: at(created),
      lastSeenAt: at(created),
      expiresAt: at(expires),
    });
    await a.consoleSessions.create(session('s1', 0, 10_000));
    await a.consoleSessions.create(session('s2', 0, 1_000));
    await a.consoleSessions.create(session('s3', 0, 10_000));
    assert.deepEqual(await b.consoleSessions.get('s1'), session('s1', 0, 10_000));
    const rebased = '{"kind":"password","userName":"alice","userId":"AIDAEXAMPLE","password":"stamp"}';
    assert.equal(await b.consoleSessions.rebase('s1', rebased), true);
    assert.equal((await a.consoleSessions.get('s1'))!.basis, rebased, 'what a session stands on can be replaced');
    assert.equal(await a.consoleSessions.rebase('none', rebased), false);
    await b.consoleSessions.rebase('s1', session('s1', 0, 10_000).basis);
    await b.consoleSessions.touch('s1', at(500));
    await a.consoleSessions.touch('s1', at(400));
    assert.equal((await a.consoleSessions.get('s1'))!.lastSeenAt.getTime(), at(500).getTime(), 'a late touch never moves it back');
    // At 2000, idle since 400: s2 expired, s3 last seen at 0; s1, seen at 500, stays.
    assert.equal(await b.consoleSessions.purge(at(2_000), at(400)), 2);
    assert.deepEqual((await a.consoleSessions.get('s1'))?.idHash, 's1');
    assert.equal(await a.consoleSessions.get('s2'), undefined);
    assert.equal(await a.consoleSessions.get('s3'), undefined);
    assert.equal(await b.consoleSessions.delete('s1'), true);
    assert.equal(await a.consoleSessions.delete('s1'), false);
    assert.equal(await a.consoleSessions.get('s1'), undefined);
  });
}
