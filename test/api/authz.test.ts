/**
 * The authorization matrix with real clients against the real app in process: users created with
 * `aws iam` (SDK) and given the ECR managed policies or inline policies, acting through the ECR
 * API (SDK) and /v2 (raw HTTP with their own login tokens). Another account is made with
 * `berth admin` on the data directory, so the stores are on disk.
 */
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DeleteRepositoryPolicyCommand,
  GetRepositoryPolicyCommand,
  SetRepositoryPolicyCommand,
  DescribeRepositoriesCommand,
  ListImageReferrersCommand,
  PutImageCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath } from '../e2e/helpers/berth-process.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED } from '../e2e/helpers/iam-users.js';
import { asBody, errorCode, pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('authorization', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let manifest: string;

  /** A user with the given managed policies and inline policy documents, and its clients. */
  const user = (name: string, managed: string[], inline: object[] = []) => createUser(berth, iam, name, managed, inline);

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth) });
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'secret/app' }));
    const config = Buffer.from('{"authz":1}');
    await pushBlob(berth.url, 'team/app', config);
    await pushBlob(berth.url, 'secret/app', config);
    manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    });
    await admin.send(new PutImageCommand({ repositoryName: 'team/app', imageManifest: manifest, imageTag: 'v1' }));
    await admin.send(new PutImageCommand({ repositoryName: 'secret/app', imageManifest: manifest, imageTag: 'v1' }));
  });
  after(async () => berth?.cleanup());

  it('ReadOnly pulls but cannot push, delete or create', async () => {
    const u = await user('reader', ['ReadOnly']);
    assert.equal((await u.ecr.send(new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] }))).images?.length, 1);
    assert.equal((await u.v2('/v2/team/app/manifests/v1')).status, 200);
    const digest = (await admin.send(new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] }))).images![0]!.imageId!
      .imageDigest!;
    const referrers = await u.ecr.send(new ListImageReferrersCommand({ repositoryName: 'team/app', subjectId: { imageDigest: digest } }));
    assert.deepEqual(referrers.referrers, [], 'ListImageReferrers is authorized as ecr:BatchGetImage');
    await assert.rejects(u.ecr.send(new PutImageCommand({ repositoryName: 'team/app', imageManifest: manifest, imageTag: 'v2' })), (e: Error) => {
      assert.equal(e.name, 'AccessDeniedException');
      assert.match(e.message, /not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:000000000000:repository\/team\/app/);
      return true;
    });
    const push = await u.v2('/v2/team/app/blobs/uploads/', { method: 'POST' });
    assert.equal(push.status, 403);
    assert.equal(errorCode(push), 'DENIED');
    await assert.rejects(u.ecr.send(new CreateRepositoryCommand({ repositoryName: 'reader/new' })), { name: 'AccessDeniedException' });
  });

  it('PowerUser pushes but cannot delete', async () => {
    const u = await user('pusher', ['PowerUser']);
    const data = Buffer.from('power user layer');
    const up = await u.v2(`/v2/team/app/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: asBody(data) });
    assert.equal(up.status, 201);
    await u.ecr.send(new PutImageCommand({ repositoryName: 'team/app', imageManifest: manifest, imageTag: 'pushed' }));
    await assert.rejects(u.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'pushed' }] })), {
      name: 'AccessDeniedException',
    });
    await assert.rejects(u.ecr.send(new DeleteRepositoryCommand({ repositoryName: 'team/app', force: true })), { name: 'AccessDeniedException' });
    assert.equal((await u.v2('/v2/team/app/manifests/pushed', { method: 'DELETE' })).status, 403);
  });

  it('an explicit Deny beats an Allow, and a user without policies can do nothing', async () => {
    const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:*', Resource: 'arn:aws:ecr:*:*:repository/secret/*' }] };
    const u = await user('limited', ['FullAccess'], [deny]);
    assert.equal((await u.v2('/v2/team/app/manifests/v1')).status, 200);
    assert.equal((await u.v2('/v2/secret/app/manifests/v1')).status, 403);
    await assert.rejects(u.ecr.send(new BatchGetImageCommand({ repositoryName: 'secret/app', imageIds: [{ imageTag: 'v1' }] })), {
      name: 'AccessDeniedException',
    });
    const nobody = await user('nobody', []);
    assert.equal(nobody.authorization, undefined, 'no ecr:GetAuthorizationToken');
    await assert.rejects(nobody.ecr.send(new DescribeRepositoriesCommand({})), { name: 'AccessDeniedException' });
  });

  it('inline policies with wildcards and conditions', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
        {
          Effect: 'Allow',
          Action: ['ecr:BatchGet*', 'ecr:GetDownloadUrlForLayer'],
          Resource: 'arn:aws:ecr:us-east-1:000000000000:repository/team/*',
          Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } },
        },
        { Effect: 'Allow', Action: 'ecr:BatchGetImage', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
      ],
    };
    const u = await user('scoped', [], [policy]);
    assert.equal((await u.v2('/v2/team/app/manifests/v1')).status, 200);
    assert.equal((await u.v2('/v2/secret/app/manifests/v1')).status, 403, 'the 10/8 grant does not match loopback');
    await assert.rejects(iam.send(new PutUserPolicyCommand({ UserName: 'scoped', PolicyName: 'bad', PolicyDocument: '{"Statement":[{"Effect":"Maybe"}]}' })), {
      name: 'MalformedPolicyDocumentException',
    });
  });

  it("conditions on the repository's tags and on the tags a request sets", async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'blue/app', tags: [{ Key: 'team', Value: 'blue' }] }));
    await pushBlob(berth.url, 'blue/app', Buffer.from('{"authz":1}'));
    await admin.send(new PutImageCommand({ repositoryName: 'blue/app', imageManifest: manifest, imageTag: 'v1' }));
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Effect: 'Allow',
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
          Resource: '*',
          Condition: { StringEquals: { 'aws:ResourceTag/team': 'blue' } },
        },
        { Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: '*' },
        { Effect: 'Allow', Action: 'ecr:TagResource', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/team': 'blue' } } },
      ],
    };
    const u = await user('tagged', [], [policy]);
    assert.equal((await u.v2('/v2/blue/app/manifests/v1')).status, 200);
    assert.equal((await u.v2('/v2/team/app/manifests/v1')).status, 403, 'team/app has no team=blue tag');
    await u.ecr.send(new CreateRepositoryCommand({ repositoryName: 'blue/untagged' }));
    await u.ecr.send(new CreateRepositoryCommand({ repositoryName: 'blue/tagged', tags: [{ Key: 'team', Value: 'blue' }] }));
    await assert.rejects(
      u.ecr.send(new CreateRepositoryCommand({ repositoryName: 'blue/red', tags: [{ Key: 'team', Value: 'red' }] })),
      (e: Error) => e.name === 'AccessDeniedException' && e.message.includes('ecr:TagResource'),
    );
    const names = (await admin.send(new DescribeRepositoriesCommand({}))).repositories?.map((r) => r.repositoryName);
    assert.ok(names?.includes('blue/tagged') && !names.includes('blue/red'), 'a refused create changes nothing');
  });

  it('lets another account pull only when the repository policy grants it, and a policy Deny binds the owner', async () => {
    await run(process.execPath, [cliPath, 'admin', 'create-account', '--account-id', '222222222222', '--data-dir', berth.dataDir]);
    await run(process.execPath, [cliPath, 'admin', 'create-user', '--account-id', '222222222222', '--user-name', 'bob', '--data-dir', berth.dataDir]);
    await run(process.execPath, [
      cliPath,
      'admin',
      'attach-policy',
      '--account-id',
      '222222222222',
      '--user-name',
      'bob',
      '--policy-arn',
      `${MANAGED}FullAccess`,
      '--data-dir',
      berth.dataDir,
    ]);
    const { stdout } = await run(process.execPath, [
      cliPath,
      'admin',
      'create-access-key',
      '--account-id',
      '222222222222',
      '--user-name',
      'bob',
      '--data-dir',
      berth.dataDir,
    ]);
    const key = JSON.parse(stdout) as { accessKeyId: string; secretAccessKey: string };
    const bob = ecrClient(berth, key);
    const pull = () => bob.send(new BatchGetImageCommand({ registryId: '000000000000', repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] }));
    await assert.rejects(pull(), { name: 'AccessDeniedException' });

    await assert.rejects(admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'team/app' })), { name: 'RepositoryPolicyNotFoundException' });
    await assert.rejects(
      admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'team/app', policyText: '{"Statement":[{"Effect":"Allow","Action":"ecr:*"}]}' })),
      { name: 'InvalidParameterException' },
    );
    const grant = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::222222222222:root' }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] },
      ],
    };
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'team/app', policyText: JSON.stringify(grant) }));
    assert.equal((await pull()).images?.length, 1);
    await assert.rejects(bob.send(new PutImageCommand({ registryId: '000000000000', repositoryName: 'team/app', imageManifest: manifest, imageTag: 'x' })), {
      name: 'AccessDeniedException',
    });

    const denyAll = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:BatchDeleteImage' }] };
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'secret/app', policyText: JSON.stringify(denyAll) }));
    const full = await user('owner', ['FullAccess']);
    await assert.rejects(full.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'secret/app', imageIds: [{ imageTag: 'v1' }] })), {
      name: 'AccessDeniedException',
    });
    const deleted = await admin.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'secret/app' }));
    assert.equal(deleted.policyText, JSON.stringify(denyAll));
  });
});
