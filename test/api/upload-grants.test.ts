/**
 * An upload session (`/v2/<name>/blobs/uploads/<id>`) is a place in one repository, not a grant:
 * every request on it is authorized again, so a pusher who loses push permission mid-upload can
 * neither add to it nor complete it; it answers only under the repository that started it, and
 * not once that repository is deleted and made again. Another principal who may push there may
 * continue it, as with distribution and ECR's upload ids (the id, not the caller, names it).
 */
import { CreateRepositoryCommand, DeleteRepositoryCommand } from '@aws-sdk/client-ecr';
import { AttachUserPolicyCommand, DetachUserPolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { asBody, errorCode, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('upload sessions are authorized at each request', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let pusher: TestIdentity;
  let colleague: TestIdentity;
  const data = randomBytes(64 * 1024);
  const half = data.length / 2;

  /** Starts an upload as `who` and sends the first half; the session's path. */
  const startHalf = async (who: TestIdentity, repo: string) => {
    const started = await who.v2(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202, started.body.toString());
    const first = await who.v2(started.headers.get('location')!, {
      method: 'PATCH',
      headers: { 'Content-Range': `0-${half - 1}` },
      body: asBody(data.subarray(0, half)),
    });
    assert.equal(first.status, 202, first.body.toString());
    return new URL(first.headers.get('location')!, berth.url).pathname;
  };
  const rest = (who: TestIdentity, path: string) =>
    who.v2(path, { method: 'PATCH', headers: { 'Content-Range': `${half}-${data.length - 1}` }, body: asBody(data.subarray(half)) });
  const complete = (who: TestIdentity, path: string) => who.v2(`${path}?digest=${sha256(data)}`, { method: 'PUT' });

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    for (const repositoryName of ['up/app', 'up/other']) await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName }));
    pusher = await createUser(berth, iam, 'pusher', ['PowerUser']);
    colleague = await createUser(berth, iam, 'colleague', ['PowerUser']);
  });
  after(async () => berth?.cleanup());

  it('refuses the rest of an upload, and its completion, once the pusher may no longer push', async () => {
    const path = await startHalf(pusher, 'up/app');
    await iam.send(new DetachUserPolicyCommand({ UserName: 'pusher', PolicyArn: `${MANAGED}PowerUser` }));
    for (const r of [await rest(pusher, path), await complete(pusher, path), await pusher.v2(path)]) {
      assert.deepEqual([r.status, errorCode(r)], [403, 'DENIED']);
    }
    await iam.send(new AttachUserPolicyCommand({ UserName: 'pusher', PolicyArn: `${MANAGED}PowerUser` }));
    assert.equal((await pusher.v2(`/v2/up/app/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404, 'nothing was completed');
  });

  it('answers a session only under its own repository, and not once the repository is made again', async () => {
    const path = await startHalf(pusher, 'up/app');
    const elsewhere = path.replace('/v2/up/app/', '/v2/up/other/');
    const moved = await rest(pusher, elsewhere);
    assert.deepEqual([moved.status, errorCode(moved)], [404, 'BLOB_UPLOAD_UNKNOWN']);
    await ecrClient(berth).send(new DeleteRepositoryCommand({ repositoryName: 'up/app', force: true }));
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'up/app' }));
    const again = await rest(pusher, path);
    assert.deepEqual([again.status, errorCode(again)], [404, 'BLOB_UPLOAD_UNKNOWN']);
  });

  it('lets another principal who may push to the repository continue a session (the id names it, as on ECR)', async () => {
    const path = await startHalf(pusher, 'up/app');
    assert.equal((await rest(colleague, path)).status, 202);
    assert.equal((await complete(colleague, path)).status, 201);
    assert.equal((await pusher.v2(`/v2/up/app/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 200);
  });
});
