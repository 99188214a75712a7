/**
 * Issue #12, authorization: a push that creates its repository is a CreateRepository (skopeo and
 * raw /v2 as PowerUser and as a user with an explicit Deny; the ECR SDK's push never creates),
 * and an account
 * principal in a resource policy delegates to the account rather than granting (SDK and raw
 * /v2 with other users' keys, and another account's root).
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
  SetRepositoryPolicyCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from './helpers/iam-users.js';
import { rememberLogin } from './helpers/logins.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { asBody, errorCode, pushBlob, sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCOUNT = '000000000000';

describe('authorization: create on push, and account principals', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let admin: ECRClient;
  let iam: IAMClient;
  let work: string;
  let layout: string;
  let manifest: string;

  before(async () => {
    work = await tempDir('berth-authz-work-');
    layout = join(work, 'src');
    await buildImageLayout(layout, { layers: 1, layerBytes: 2048, tag: 'app' });
    [berth, skopeo] = await Promise.all([startBerth(), createSkopeo()]);
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth) });
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'shared/app' }));
    const config = Buffer.from('{"delegation":1}');
    await pushBlob(berth.url, 'shared/app', config);
    manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    });
    await admin.send(new PutImageCommand({ repositoryName: 'shared/app', imageManifest: manifest, imageTag: 'v1' }));
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const repositoryNames = async () => ((await admin.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

  /** `skopeo copy` of the test image to `repo:v1` logged in as `who`. */
  async function skopeoPush(who: TestIdentity, repo: string): Promise<void> {
    rememberLogin(berth.url, who.authorization!);
    try {
      await skopeo.copy(`oci:${layout}:app`, `docker://${berth.host}/${repo}:v1`);
    } finally {
      rememberLogin(berth.url, berth.authorization);
    }
  }

  /** Every way to push into a missing repository is refused as ecr:CreateRepository, and none creates it. */
  async function assertCannotCreateByPushing(who: TestIdentity, repo: string): Promise<void> {
    await assert.rejects(skopeoPush(who, repo), /ecr:CreateRepository/);
    const start = await who.v2(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 403);
    assert.equal(errorCode(start), 'DENIED');
    const config = Buffer.from('{"delegation":1}');
    const mount = await who.v2(`/v2/${repo}/blobs/uploads/?mount=${sha256(config)}&from=shared/app`, { method: 'POST' });
    assert.equal(mount.status, 403, 'a cross-repository mount does not create the repository either');
    assert.equal(errorCode(mount), 'DENIED');
    const put = await who.v2(`/v2/${repo}/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest });
    assert.equal(put.status, 403);
    assert.equal(errorCode(put), 'DENIED');
    assert.match(put.body.toString(), /ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:000000000000:repository\//);
    // The JSON API never creates on push, so it asks for no CreateRepository: the repository is missing.
    await assert.rejects(who.ecr.send(new InitiateLayerUploadCommand({ repositoryName: repo })), { name: 'RepositoryNotFoundException' });
    assert.ok(!(await repositoryNames()).includes(repo), `${repo} was not created`);
    const listed = await fetch(`${berth.url}/v2/_catalog`, { headers: { Authorization: berth.authorization } });
    assert.ok(!((await listed.json()) as { repositories: string[] }).repositories.includes(repo));
  }

  it('PowerUser cannot create a repository by pushing, but pushes into existing ones', async () => {
    const pusher = await createUser(berth, iam, 'power', ['PowerUser']);
    await assertCannotCreateByPushing(pusher, 'power/new');
    await skopeoPush(pusher, 'shared/app');
    const blob = Buffer.from('power user blob');
    assert.equal((await pusher.v2(`/v2/shared/app/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', body: asBody(blob) })).status, 201);
  });

  it('an explicit Deny on ecr:CreateRepository holds against pushes', async () => {
    const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:CreateRepository', Resource: '*' }] };
    const denied = await createUser(berth, iam, 'no-create', ['FullAccess'], [deny]);
    await assertCannotCreateByPushing(denied, 'denied/new');
    await assert.rejects(denied.ecr.send(new CreateRepositoryCommand({ repositoryName: 'denied/new' })), { name: 'AccessDeniedException' });
  });

  it('a user allowed ecr:CreateRepository and the push actions still creates on push', async () => {
    const create = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: 'arn:aws:ecr:us-east-1:000000000000:repository/made/*' }],
    };
    const creator = await createUser(berth, iam, 'creator', ['PowerUser'], [create]);
    await skopeoPush(creator, 'made/by-push');
    assert.ok((await repositoryNames()).includes('made/by-push'));
    assert.equal((await creator.v2('/v2/made/by-push/manifests/v1', { method: 'HEAD' })).status, 200);
    await assertCannotCreateByPushing(creator, 'elsewhere/new');
  });

  it('a resource policy naming the account delegates: a user with no identity Allow still cannot pull', async () => {
    const tokenOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] };
    const plain = await createUser(berth, iam, 'plain', [], [tokenOnly]);
    const pull = () => plain.ecr.send(new BatchGetImageCommand({ repositoryName: 'shared/app', imageIds: [{ imageTag: 'v1' }] }));
    const grant = (principal: unknown) =>
      admin.send(
        new SetRepositoryPolicyCommand({
          repositoryName: 'shared/app',
          policyText: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: principal, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
          }),
        }),
      );
    for (const account of [`arn:aws:iam::${ACCOUNT}:root`, ACCOUNT]) {
      await grant({ AWS: account });
      await assert.rejects(pull(), { name: 'AccessDeniedException' }, `a grant to ${account} is not a grant to the user`);
      const res = await plain.v2('/v2/shared/app/manifests/v1');
      assert.equal(res.status, 403);
      assert.equal(errorCode(res), 'DENIED');
    }
    await grant({ AWS: `arn:aws:iam::${ACCOUNT}:user/plain` });
    assert.equal((await pull()).images?.length, 1, 'naming the user itself grants');
    assert.equal((await plain.v2('/v2/shared/app/manifests/v1')).status, 200);
    await grant('*');
    assert.equal((await plain.v2('/v2/shared/app/manifests/v1')).status, 200, '"*" grants');

    // Across accounts: the other account's root is allowed by a grant to its account; its users only with an identity Allow.
    await createAccount(berth, '222222222222');
    await grant({ AWS: '222222222222' });
    const root = await otherAccountIdentity(berth, '222222222222');
    const crossPull = (who: TestIdentity) =>
      who.ecr.send(new BatchGetImageCommand({ registryId: ACCOUNT, repositoryName: 'shared/app', imageIds: [{ imageTag: 'v1' }] }));
    assert.equal((await crossPull(root)).images?.length, 1, "the other account's root pulls");
    await grant({ AWS: 'arn:aws:iam::222222222222:root' });
    assert.equal((await crossPull(root)).images?.length, 1);
    const bare = await otherAccountIdentity(berth, '222222222222', { name: 'bare', managed: [] });
    await assert.rejects(crossPull(bare), { name: 'AccessDeniedException' }, 'a user of that account with no identity Allow');
    const reader = await otherAccountIdentity(berth, '222222222222', { name: 'reader', managed: ['ReadOnly'] });
    assert.equal((await crossPull(reader)).images?.length, 1);
    await grant({ AWS: '333333333333' });
    await assert.rejects(crossPull(root), { name: 'AccessDeniedException' }, 'a grant to another account is no grant to this root');
  });
});
