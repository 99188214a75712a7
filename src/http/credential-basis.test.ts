/**
 * CredentialBasis over a real SQLite metadata store through IdentityAdmin: what a login's key and
 * user checks refuse, and what its cache keeps (a change through this node's IdentityAdmin holds
 * at once; one made beside it, as another node's, only once the signal or the cache's time says so).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../auth/errors.js';
import { IdentityAdmin } from '../auth/identity-admin.js';
import { userArn, type Principal } from '../auth/principal.js';
import { systemClock } from '../core/clock.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import type { MetadataStore } from '../metadata/types.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { CredentialBasis } from './credential-basis.js';

const ACCOUNT = '123456789012';
const user = (name: string): Principal => ({ arn: userArn(ACCOUNT, name, '/'), accountId: ACCOUNT, kind: 'user', userName: name });
const noLongerActive = (id: string) => (e: unknown) =>
  e instanceof AuthError && e.reason === 'InvalidLoginToken' && e.message.includes(`${id} of this login token is no longer active`);

describe('the basis of a login: its access key and its user', () => {
  let dir: string;
  let meta: MetadataStore;
  let admin: IdentityAdmin;
  let basis: CredentialBasis;
  const changes = new ChangeSignal();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-credential-basis-'));
    meta = await createSqliteMetadataStore({ path: join(dir, 'metadata.db') });
    admin = new IdentityAdmin(meta.identities, systemClock, randomBytes(32), changes, meta.roles);
    await admin.createAccount(ACCOUNT, 'test');
    // A cache time no test waits out: what it serves is what was cached.
    basis = new CredentialBasis(admin, { ttlMs: 600_000, changes });
  });

  after(async () => {
    await meta.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stands while the key is active and its holder's; not once inactive or another's; again once active", async () => {
    await admin.createUser(ACCOUNT, 'ann');
    await admin.createUser(ACCOUNT, 'bob');
    const key = (await admin.createAccessKey(ACCOUNT, 'ann')).record.id;
    await basis.requireActiveKey(key, user('ann'));
    await assert.rejects(basis.requireActiveKey(key, user('bob')), noLongerActive(key));
    await assert.rejects(basis.requireActiveKey(key, { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, kind: 'root' }), noLongerActive(key));
    await admin.setAccessKeyStatus(ACCOUNT, 'ann', key, 'Inactive');
    await assert.rejects(basis.requireActiveKey(key, user('ann')), noLongerActive(key));
    await admin.setAccessKeyStatus(ACCOUNT, 'ann', key, 'Active');
    await basis.requireActiveKey(key, user('ann'));
  });

  it('a key deleted beside this node (another node) stands until the change signal or the cache time; through IdentityAdmin at once', async () => {
    await admin.createUser(ACCOUNT, 'cy');
    const key = (await admin.createAccessKey(ACCOUNT, 'cy')).record.id;
    await basis.requireActiveKey(key, user('cy'));
    await meta.identities.deleteAccessKey(key);
    await basis.requireActiveKey(key, user('cy')); // cached: another node's change is seen within the cache's time
    changes.bump();
    await assert.rejects(basis.requireActiveKey(key, user('cy')), noLongerActive(key));

    const other = (await admin.createAccessKey(ACCOUNT, 'cy')).record.id;
    await basis.requireActiveKey(other, user('cy'));
    await admin.deleteAccessKey(ACCOUNT, 'cy', other);
    await assert.rejects(basis.requireActiveKey(other, user('cy')), noLongerActive(other));
  });

  it("gives the user's tags while it is the same user (name, path, id); nothing of one deleted, or made again", async () => {
    const first = await admin.createUser(ACCOUNT, 'dee', '/', undefined, [{ Key: 'team', Value: 'a' }]);
    assert.deepEqual(await basis.userTags(user('dee'), first.userId), [{ Key: 'team', Value: 'a' }]);
    assert.deepEqual(await basis.userTags(user('dee'), undefined), [{ Key: 'team', Value: 'a' }], 'a credential that names no id (minted before ids)');
    assert.equal(await basis.userTags({ ...user('dee'), arn: userArn(ACCOUNT, 'dee', '/ops/') }, first.userId), false, 'another path');
    assert.equal(await basis.userTags({ ...user('Dee'), userName: 'Dee' }, first.userId), false, 'another name');
    await admin.deleteUser(ACCOUNT, 'dee');
    assert.equal(await basis.userTags(user('dee'), first.userId), false);
    const again = await admin.createUser(ACCOUNT, 'dee');
    assert.equal(await basis.userTags(user('dee'), first.userId), false, "the first dee's credentials");
    assert.deepEqual(await basis.userTags(user('dee'), again.userId), []);
  });
});
