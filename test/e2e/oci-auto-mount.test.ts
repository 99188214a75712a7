/**
 * Automatic mounting (`POST /v2/<name>/blobs/uploads/?mount=<digest>` without `from`, the
 * conformance suite's OCI_AUTOMATIC_CROSSMOUNT and "mount anonymous" checks) mounts only a blob
 * the caller could read anyway: one in a repository of the same registry that the caller may pull
 * from. The spec lets a blob be mounted "from another repository that the client has read access
 * to"; a digest alone is no such right (digests are printed in manifests, logs and CI output), so
 * a caller who may push to one repository must not get a private blob of another repository, or
 * of another account, into it by naming the digest. Refused, it is the spec's fallback: 202 and
 * an upload session, and the blob stays unknown to the target.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from './helpers/iam-users.js';
import { asBody, errorCode, getBlob, pushBlob, sha256 } from './helpers/registry-http.js';

const TOKEN = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
const OTHER = '111122223333';

describe('automatic mount reads only what the caller may read', () => {
  let berth: BerthProcess;
  let team: TestIdentity;
  const secret = randomBytes(4096);
  const digest = sha256(secret);
  const autoMount = (who: TestIdentity, repo: string, d = digest) => who.v2(`/v2/${repo}/blobs/uploads/?mount=${d}`, { method: 'POST' });

  before(async () => {
    berth = await startBerth();
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    assert.equal((await pushBlob(berth.url, 'secret/app', secret)).status, 201);
    team = await createUser(
      berth,
      iam,
      'team-only',
      [],
      [
        {
          Version: '2012-10-17',
          Statement: [TOKEN, { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:${berth.region}:000000000000:repository/team/*` }],
        },
      ],
    );
    await createAccount(berth, OTHER);
  });
  after(() => berth?.cleanup());

  it('a user who may push only to team/* gets an upload session (202), not the blob of secret/app', async () => {
    const r = await autoMount(team, 'team/app');
    assert.equal(r.status, 202, r.body.toString());
    assert.match(r.headers.get('location') ?? '', /^\/v2\/team\/app\/blobs\/uploads\//);
    assert.equal((await team.v2(`/v2/team/app/blobs/${digest}`, { method: 'HEAD' })).status, 404);
    assert.equal((await getBlob(berth.url, 'team/app', digest, 'HEAD')).status, 404, 'not linked, whoever asks');
  });

  it('another account gets an upload session too, in its own registry', async () => {
    const root = await otherAccountIdentity(berth, OTHER);
    const r = await autoMount(root, 'mine/app');
    assert.equal(r.status, 202, r.body.toString());
    assert.equal((await root.v2(`/v2/mine/app/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  });

  it('a blob in a repository the caller may read mounts (201), from its own repositories or any for the admin', async () => {
    const own = randomBytes(2048);
    const put = await team.v2(`/v2/team/src/blobs/uploads/?digest=${sha256(own)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: asBody(own),
    });
    assert.equal(put.status, 201, put.body.toString());
    const mounted = await autoMount(team, 'team/dst', sha256(own));
    assert.equal(mounted.status, 201, mounted.body.toString());
    assert.equal(mounted.headers.get('location'), `/v2/team/dst/blobs/${sha256(own)}`);
    assert.deepEqual((await team.v2(`/v2/team/dst/blobs/${sha256(own)}`)).body, own);

    const admin = await fetch(`${berth.url}/v2/other/app/blobs/uploads/?mount=${digest}`, { method: 'POST', headers: { Authorization: berth.authorization } });
    assert.equal(admin.status, 201);
    assert.deepEqual((await getBlob(berth.url, 'other/app', digest)).body, secret);
  });
  it('a mount `from` a repository the caller may not read is an upload session (202) too, whether or not the blob is there', async () => {
    // containerd asks to mount from the repository it pulled from, and fails a push on any refusal
    // but a 401: a 403 here failed every push by a user who may push but not read the source.
    for (const d of [digest, sha256(randomBytes(16))]) {
      const r = await team.v2(`/v2/team/app/blobs/uploads/?mount=${d}&from=secret/app`, { method: 'POST' });
      assert.equal(r.status, 202, r.body.toString());
      assert.match(r.headers.get('location') ?? '', /^\/v2\/team\/app\/blobs\/uploads\//);
    }
    assert.equal((await team.v2(`/v2/team/app/blobs/${digest}`, { method: 'HEAD' })).status, 404, 'not mounted');
    // The target's own rights still hold: no push into a repository the caller may not write.
    const elsewhere = await team.v2(`/v2/other/app/blobs/uploads/?mount=${digest}&from=secret/app`, { method: 'POST' });
    assert.equal(elsewhere.status, 403);
    assert.equal(errorCode(elsewhere), 'DENIED');
  });
});
