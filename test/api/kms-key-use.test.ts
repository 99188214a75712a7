/**
 * Creating a repository under a customer managed KMS key asks the creator for KMS's
 * permissions on that key, as ECR asks them (it calls DescribeKey and CreateGrant with the
 * creator's credentials): a user who may create repositories but not use the key is refused
 * with ECR's KmsException in KMS's words, and nothing is created. Driven with the ECR, KMS and
 * IAM SDKs against Berth's own keys (kmsProvider berth). A repository a creation template makes
 * asks the same of the template's customRoleArn (create on push, driven over /v2). Sources:
 * src/http/kms-key-use.ts.
 */
import {
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DescribeImageReplicationStatusCommand,
  PutImageCommand,
  PutReplicationConfigurationCommand,
  UpdateRepositoryCreationTemplateCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  KmsException,
  PutRegistryPolicyCommand,
} from '@aws-sdk/client-ecr';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { configOnlyManifest, pushBlob, request } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { allowing, imageRepository } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const THEIRS = '333333333333';

describe('a repository under a customer managed KMS key: what KMS asks of its creator', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let keyArn: string;
  let otherKeyArn: string;

  const ecrOnly = JSON.parse(allowing(['ecr:*'])) as object;
  const kmsOn = (resource: string, actions: string[], condition?: object) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: resource, ...(condition && { Condition: condition }) }],
  });
  const create = (who: TestIdentity, name: string, kmsKey?: string, registryId?: string) =>
    who.ecr.send(
      new CreateRepositoryCommand({
        repositoryName: name,
        ...(registryId && { registryId }),
        encryptionConfiguration: { encryptionType: 'KMS', ...(kmsKey !== undefined && { kmsKey }) },
      }),
    );
  const exists = async (name: string) =>
    admin.send(new DescribeRepositoriesCommand({ repositoryNames: [name] })).then(
      () => true,
      (e: Error) => (e.name === 'RepositoryNotFoundException' ? false : Promise.reject(e)),
    );

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'team A images' }))).KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/team-a', TargetKeyId: keyArn }));
    otherKeyArn = (await kms.send(new CreateKeyCommand({ Description: 'team B images' }))).KeyMetadata!.Arn!;
  });
  after(() => berth?.cleanup());

  it('refuses a creator without kms:DescribeKey, in KMS words, and creates nothing', async () => {
    const dev = await createUser(berth, iam, 'dev-no-kms', [], [ecrOnly]);
    const e = await create(dev, 'nokms/app', 'alias/team-a').then(
      () => assert.fail('the call succeeded'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof KmsException, `${String(e)}`);
    assert.equal(e.kmsError, 'AccessDeniedException');
    assert.equal(
      e.message,
      `User: arn:aws:iam::${ACCOUNT}:user/dev-no-kms is not authorized to perform: kms:DescribeKey on resource: ${keyArn} because no identity-based policy allows the kms:DescribeKey action`,
    );
    assert.equal(await exists('nokms/app'), false, 'nothing created');
    // The same user keeps AES256 and the AWS managed key, whose key policy lets ECR's users use it.
    await create(dev, 'nokms/managed');
    await create(dev, 'nokms/managed-named', 'alias/aws/ecr');
    await dev.ecr.send(new CreateRepositoryCommand({ repositoryName: 'nokms/plain' }));
    assert.deepEqual(await Promise.all(['nokms/managed', 'nokms/managed-named', 'nokms/plain'].map(exists)), [true, true, true]);
  });

  it('asks kms:CreateGrant too, and holds an explicit Deny', async () => {
    const describeOnly = await createUser(berth, iam, 'dev-describe', [], [ecrOnly, kmsOn(keyArn, ['kms:DescribeKey'])]);
    assert.match(
      await refusal(create(describeOnly, 'grant/app', keyArn)),
      /^KmsException: .* kms:CreateGrant on resource: .* because no identity-based policy allows/,
    );
    const denied = await createUser(
      berth,
      iam,
      'dev-denied',
      [],
      [ecrOnly, kmsOn('*', ['kms:*']), { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:CreateGrant', Resource: keyArn }] }],
    );
    assert.match(
      await refusal(create(denied, 'grant/app', 'alias/team-a')),
      /kms:CreateGrant on resource: .* with an explicit deny in an identity-based policy$/,
    );
    // Its permission on one key says nothing of another.
    const teamA = await createUser(berth, iam, 'dev-team-a', [], [ecrOnly, kmsOn(keyArn, ['kms:DescribeKey', 'kms:CreateGrant'])]);
    assert.match(await refusal(create(teamA, 'grant/b', otherKeyArn)), /^KmsException: .* kms:DescribeKey on resource: .*/);
    assert.deepEqual(await Promise.all(['grant/app', 'grant/b'].map(exists)), [false, false]);
  });

  it('creates the repository for a creator allowed on the key, also through ECR only (kms:ViaService)', async () => {
    const teamA = await createUser(berth, iam, 'dev-allowed', [], [ecrOnly, kmsOn(keyArn, ['kms:DescribeKey', 'kms:CreateGrant'])]);
    const made = await create(teamA, 'allowed/app', 'alias/team-a');
    assert.deepEqual(made.repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: keyArn });

    const throughEcr = { StringEquals: { 'kms:ViaService': `ecr.${berth.region}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT } };
    const viaEcr = await createUser(
      berth,
      iam,
      'dev-via-ecr',
      [],
      [
        ecrOnly,
        kmsOn(keyArn, ['kms:DescribeKey'], throughEcr),
        kmsOn(keyArn, ['kms:CreateGrant'], { ...throughEcr, Bool: { 'kms:GrantIsForAWSResource': 'true' } }),
      ],
    );
    await create(viaEcr, 'allowed/via-ecr', keyArn);
    assert.equal(await exists('allowed/via-ecr'), true);
    // The same grant does not reach KMS's own API, where no service calls on the user's behalf.
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: viaEcr.keys, maxAttempts: 1 });
    assert.match(await refusal(kms.send(new DescribeKeyCommand({ KeyId: keyArn }))), /^AccessDeniedException: .*kms:DescribeKey/);
  });

  it("a creation template's key asks its customRoleArn, the role ECR creates with: a push into a new repository", async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecr.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
    const role = async (name: string, policy?: object) => {
      const made = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }));
      if (policy) await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'kms', PolicyDocument: JSON.stringify(policy) }));
      return made.Role!.Arn!;
    };
    const template = (prefix: string, customRoleArn?: string) =>
      admin.send(
        new CreateRepositoryCreationTemplateCommand({
          prefix,
          appliedFor: ['CREATE_ON_PUSH'],
          encryptionConfiguration: { encryptionType: 'KMS', kmsKey: keyArn },
          ...(customRoleArn && { customRoleArn }),
        }),
      );
    const startUpload = (repo: string) => request(`${berth.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await template('norole');
    await template('weak', await role('ecr-templates-weak'));
    const strong = await role('ecr-templates', kmsOn(keyArn, ['kms:DescribeKey', 'kms:CreateGrant']));
    await template('strong', strong);
    // The strong role's name on another path: an ARN naming no role, though iam:PassRole is asked on it as written.
    await template('pathed', strong.replace(':role/', ':role/team-a/'));
    // As strong as the strong one, but its trust policy lets only the account's principals assume it, not ECR.
    const ownTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    const untrusted = await iam.send(new CreateRoleCommand({ RoleName: 'ecr-untrusted', AssumeRolePolicyDocument: JSON.stringify(ownTrust) }));
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ecr-untrusted',
        PolicyName: 'kms',
        PolicyDocument: JSON.stringify(kmsOn(keyArn, ['kms:DescribeKey', 'kms:CreateGrant'])),
      }),
    );
    await template('untrusted', untrusted.Role!.Arn!);

    for (const [repo, words] of [
      ['norole/app', /names the customer managed key .* but no customRoleArn/],
      ['pathed/app', /customRoleArn arn:aws:iam::\d{12}:role\/team-a\/ecr-templates, which names no role that trusts ecr.amazonaws.com/],
      ['untrusted/app', /customRoleArn arn:aws:iam::\d{12}:role\/ecr-untrusted, which names no role that trusts ecr.amazonaws.com/],
      [
        'weak/app',
        /assumed-role\/ecr-templates-weak\/.* is not authorized to perform: kms:DescribeKey on resource: .* because no identity-based policy allows/,
      ],
    ] as const) {
      const res = await startUpload(repo);
      assert.equal(res.status, 403, `${repo}: ${res.body.toString()}`);
      const body = JSON.parse(res.body.toString()) as { errors: Array<{ code: string; message: string }> };
      assert.equal(body.errors[0]?.code, 'DENIED');
      assert.match(body.errors[0]!.message, words);
      assert.equal(await exists(repo), false, `${repo}: nothing created`);
    }
    // The pusher is the admin, allowed everything: the role decides, not the pusher.
    assert.equal((await startUpload('strong/app')).status, 202);
    const made = await admin.send(new DescribeRepositoriesCommand({ repositoryNames: ['strong/app'] }));
    assert.deepEqual(made.repositories?.[0]?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: keyArn });
  });

  it("replication into another account: the destination template's key asks the destination's role", async () => {
    const DEST = '444444444444';
    await createAccount(berth, DEST);
    const dest = await otherAccountIdentity(berth, DEST);
    await dest.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
              Action: ['ecr:ReplicateImage', 'ecr:CreateRepository'],
              Resource: `arn:aws:ecr:${berth.region}:${DEST}:repository/*`,
            },
          ],
        }),
      }),
    );
    const destKms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: dest.keys, maxAttempts: 1 });
    const destKey = (await destKms.send(new CreateKeyCommand({ Description: 'replicas' }))).KeyMetadata!.Arn!;
    await dest.ecr.send(
      new CreateRepositoryCreationTemplateCommand({
        prefix: 'sealed',
        appliedFor: ['REPLICATION'],
        encryptionConfiguration: { encryptionType: 'KMS', kmsKey: destKey },
      }),
    );
    await admin.send(
      new PutReplicationConfigurationCommand({
        replicationConfiguration: {
          rules: [{ destinations: [{ region: berth.region, registryId: DEST }], repositoryFilters: [{ filter: 'sealed', filterType: 'PREFIX_MATCH' }] }],
        },
      }),
    );
    const settled = (imageTag: string) =>
      waitFor(`the replication of sealed/app:${imageTag}`, async () => {
        const st =
          (await admin.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'sealed/app', imageId: { imageTag } }))).replicationStatuses ?? [];
        return st.length === 1 && st[0]!.status !== 'IN_PROGRESS' && st[0];
      });
    const destRepo = () =>
      dest.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['sealed/app'] })).then(
        (r) => r.repositories?.[0],
        () => undefined,
      );

    // No customRoleArn: ECR's own role may not use the destination's customer key.
    await imageRepository(berth.url, admin, 'sealed/app', Buffer.from('{"sealed":1}'));
    assert.deepEqual(await settled('v1'), { region: berth.region, registryId: DEST, status: 'FAILED', failureCode: 'ACCESS_DENIED' });
    assert.equal(await destRepo(), undefined, 'nothing created at the destination');

    // A role of the destination allowed on its key: the repository is made under that key.
    const destIam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: dest.keys, maxAttempts: 1 });
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecr.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
    const roleArn = (await destIam.send(new CreateRoleCommand({ RoleName: 'replicas', AssumeRolePolicyDocument: JSON.stringify(trust) }))).Role!.Arn!;
    await destIam.send(
      new PutRolePolicyCommand({
        RoleName: 'replicas',
        PolicyName: 'kms',
        PolicyDocument: JSON.stringify(kmsOn(destKey, ['kms:DescribeKey', 'kms:CreateGrant'])),
      }),
    );
    await dest.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'sealed', customRoleArn: roleArn }));
    const config = Buffer.from('{"sealed":2}');
    await pushBlob(berth.url, 'sealed/app', config);
    await admin.send(new PutImageCommand({ repositoryName: 'sealed/app', imageManifest: configOnlyManifest(config), imageTag: 'v2' }));
    assert.deepEqual(await settled('v2'), { region: berth.region, registryId: DEST, status: 'COMPLETE' });
    assert.deepEqual((await destRepo())?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: destKey });
  });

  it("refuses another account's caller, whom the key's default policy does not name", async () => {
    await createAccount(berth, THEIRS);
    const theirs = await otherAccountIdentity(berth, THEIRS);
    await admin.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${THEIRS}:root` }, Action: ['ecr:CreateRepository'], Resource: '*' }],
        }),
      }),
    );
    assert.match(
      await refusal(create(theirs, 'theirs/app', keyArn, ACCOUNT)),
      new RegExp(
        `^KmsException: User: arn:aws:iam::${THEIRS}:root is not authorized to perform: kms:DescribeKey on resource: ${keyArn} because no resource-based policy allows`,
      ),
    );
    assert.equal(await exists('theirs/app'), false);
    // The registry policy does admit it: with the managed key the repository is made.
    await create(theirs, 'theirs/managed', undefined, ACCOUNT);
    assert.equal(await exists('theirs/managed'), true);
  });
});
