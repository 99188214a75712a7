/**
 * Signer profiles are bounded per account and region (quota signingProfiles), canceled ones
 * included, since a name is never reused and each profile keeps its sealed key: past the bound
 * PutSigningProfile answers Signer's ServiceLimitExceededException (402) and stores nothing; an
 * account's own value (as `berth admin set-quota` sets it) moves the bound for that account.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedRest } from './helpers/signed-rest.js';

const PLATFORM = 'Notation-OCI-SHA384-ECDSA';

describe('signing profiles per account', () => {
  let berth: BerthInProcess;
  let creds: Credentials;
  let account: string;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_QUOTAS: JSON.stringify({ signingProfiles: 2 }) } });
    creds = adminCredentials(berth);
  });
  after(async () => berth?.cleanup());

  const put = (name: string) => signedRest(berth, creds, { method: 'PUT', path: `/signing-profiles/${name}`, body: { platformId: PLATFORM } });
  const names = async () => {
    const r = await signedRest(berth, creds, { method: 'GET', path: '/signing-profiles', query: { includeCanceled: 'true' } });
    assert.equal(r.status, 200);
    return (r.json.profiles as Array<{ profileName: string }>).map((p) => p.profileName).sort();
  };

  it('refuses a profile past the bound with ServiceLimitExceededException, canceled profiles counted, storing nothing', async () => {
    const one = await put('quota_one');
    assert.equal(one.status, 200);
    account = String(one.json.arn).split(':')[4]!;
    const two = await put('quota_two');
    assert.equal(two.status, 200);
    const canceled = await signedRest(berth, creds, { method: 'DELETE', path: '/signing-profiles/quota_two' });
    assert.equal(canceled.status, 200, JSON.stringify(canceled.json));

    const refused = await put('quota_three');
    assert.equal(refused.status, 402, JSON.stringify(refused.json));
    assert.equal(refused.type, 'ServiceLimitExceededException');
    assert.match(String(refused.json.message), /limit of 2 signing profiles .*canceled ones included \(quota signingProfiles\)/);
    assert.equal((await signedRest(berth, creds, { method: 'GET', path: '/signing-profiles/quota_three' })).status, 404);
    assert.deepEqual(await names(), ['quota_one', 'quota_two']);
  });

  it("follows the account's own value", async () => {
    await berth.app.registry.quotas.set(account, 'signingProfiles', 3);
    assert.equal((await put('quota_three')).status, 200);
    const refused = await put('quota_four');
    assert.equal(refused.type, 'ServiceLimitExceededException');
    assert.match(String(refused.json.message), /limit of 3 /);
    assert.deepEqual(await names(), ['quota_one', 'quota_three', 'quota_two']);
  });
});
