/**
 * Secrets Manager's UpdateSecret through the SDK and the `aws secretsmanager` CLI: a new
 * description and KMS key, a new value as a new version (AWSCURRENT moves, the old one becomes
 * AWSPREVIOUS), a retried token; and what it refuses, each refusal changing nothing: both value
 * kinds, a token reused with another value, a secret marked for deletion or unknown, a change of
 * a Type the secret has, a caller without secretsmanager:UpdateSecret, and the guardrails of
 * secretsmanager:resource/Type, secretsmanager:Type and secretsmanager:Description. A secret
 * with no Type takes one (the guide's migration to a managed external secret).
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { adminCredentials, awsCliEnv, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const named = (name: string) => (e: Error) => e.name === name;
const allow = (Action: string | string[], Condition?: object) => ({ Effect: 'Allow', Action, Resource: '*', ...(Condition && { Condition }) });
const deny = (Action: string, Condition: object) => ({ Effect: 'Deny', Action, Resource: '*', Condition });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

describe('Secrets Manager UpdateSecret', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  const sm = (credentials: Credentials = adminCredentials(berth)) =>
    new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const keysOf = async (name: string, policy: object) => (await createUser(berth, iam, name, [], [policy])).keys;
  const state = async (SecretId: string) => {
    const d = await sm().send(new DescribeSecretCommand({ SecretId }));
    const v = await sm().send(new GetSecretValueCommand({ SecretId }));
    return { description: d.Description, kmsKeyId: d.KmsKeyId, type: d.Type, versions: d.VersionIdsToStages, value: v.SecretString ?? v.SecretBinary };
  };

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it('changes the description and KMS key, and makes a new value the current version', async () => {
    // The key a secret names must be one the account has, and the caller may use (secrets-kms-key-use.test.ts).
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId! }));
    const created = await sm().send(new CreateSecretCommand({ Name: 'up/app', SecretString: 'v1', Description: 'old' }));
    const meta = await sm().send(new UpdateSecretCommand({ SecretId: 'up/app', Description: 'new', KmsKeyId: 'alias/app' }));
    assert.deepEqual([meta.ARN, meta.Name, meta.VersionId], [created.ARN, 'up/app', undefined]);
    assert.deepEqual(await state('up/app'), {
      description: 'new',
      kmsKeyId: 'alias/app',
      type: undefined,
      versions: { [created.VersionId!]: ['AWSCURRENT'] },
      value: 'v1',
    });

    const token = '11111111-2222-3333-4444-555555555555';
    const valued = await sm().send(new UpdateSecretCommand({ SecretId: created.ARN!, SecretString: 'v2', ClientRequestToken: token }));
    assert.equal(valued.VersionId, token);
    assert.deepEqual((await state('up/app')).versions, { [token]: ['AWSCURRENT'], [created.VersionId!]: ['AWSPREVIOUS'] });
    assert.equal((await state('up/app')).value, 'v2');
    // A retry of the same request is the same answer, and no new version.
    assert.equal((await sm().send(new UpdateSecretCommand({ SecretId: 'up/app', SecretString: 'v2', ClientRequestToken: token }))).VersionId, token);
    assert.deepEqual((await state('up/app')).versions, { [token]: ['AWSCURRENT'], [created.VersionId!]: ['AWSPREVIOUS'] });
  });

  it('is served to the aws CLI', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'up/cli', SecretString: 'one' }));
    const env = awsCliEnv(berth);
    const out = JSON.parse(
      (
        await run(
          'aws',
          ['secretsmanager', 'update-secret', '--secret-id', 'up/cli', '--secret-string', 'two', '--description', 'by cli', '--output', 'json'],
          { env },
        )
      ).stdout,
    ) as { Name: string; VersionId?: string };
    assert.equal(out.Name, 'up/cli');
    assert.match(String(out.VersionId), /^[0-9a-f-]{36}$/);
    const after = await state('up/cli');
    assert.deepEqual([after.description, after.value], ['by cli', 'two']);
  });

  it('refuses what Secrets Manager refuses, changing nothing', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'up/refused', SecretString: 'kept', Description: 'kept', Type: 'partner-x' }));
    const before = await state('up/refused');
    const token = Object.keys(before.versions!)[0]!;
    const refused = async (input: ConstructorParameters<typeof UpdateSecretCommand>[0], name: string, message?: RegExp) => {
      await assert.rejects(sm().send(new UpdateSecretCommand(input)), (e: Error) => {
        assert.equal(e.name, name);
        if (message) assert.match(e.message, message);
        return true;
      });
      assert.deepEqual(await state('up/refused'), before);
    };
    await refused({ SecretId: 'up/refused', SecretString: 'x', SecretBinary: Buffer.from('y'), Description: 'changed' }, 'InvalidParameterException');
    await refused({ SecretId: 'up/refused', SecretString: 'other', ClientRequestToken: token, Description: 'changed' }, 'ResourceExistsException');
    await refused({ SecretId: 'up/refused', Type: 'partner-y', Description: 'changed' }, 'InvalidParameterException', /Type can.t be changed/);
    await refused({ SecretId: 'up/refused', Type: '', SecretString: 'changed' }, 'InvalidParameterException', /Type can.t be changed/);
    await refused({ SecretId: 'up/refused', Description: 'x'.repeat(2049) }, 'ValidationException');
    await refused({ SecretId: 'up/refused', ClientRequestToken: 'short', SecretString: 'changed' }, 'ValidationException');
    // Naming the Type it has is no change of Type.
    await sm().send(new UpdateSecretCommand({ SecretId: 'up/refused', Type: 'partner-x' }));
    assert.deepEqual(await state('up/refused'), before);
    await assert.rejects(sm().send(new UpdateSecretCommand({ SecretId: 'up/unknown', Description: 'x' })), named('ResourceNotFoundException'));

    await sm().send(new CreateSecretCommand({ Name: 'up/deleted', SecretString: 'gone' }));
    await sm().send(new DeleteSecretCommand({ SecretId: 'up/deleted', RecoveryWindowInDays: 7 }));
    await assert.rejects(sm().send(new UpdateSecretCommand({ SecretId: 'up/deleted', SecretString: 'back' })), named('InvalidRequestException'));
    const deleted = await sm().send(new DescribeSecretCommand({ SecretId: 'up/deleted' }));
    assert.equal(Object.keys(deleted.VersionIdsToStages ?? {}).length, 1);
  });

  it('needs secretsmanager:UpdateSecret, and honours resource/Type and Description guardrails', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'up/guarded', SecretString: 'g1', Description: 'guarded' }));
    await sm().send(new CreateSecretCommand({ Name: 'up/partner', SecretString: 'p1', Type: 'partner-x' }));
    const before = await state('up/guarded');
    const partnerBefore = await state('up/partner');

    const others = sm(
      await keysOf('up-no-update', doc(allow(['secretsmanager:PutSecretValue', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']))),
    );
    await assert.rejects(others.send(new UpdateSecretCommand({ SecretId: 'up/guarded', SecretString: 'x' })), named('AccessDeniedException'));
    await assert.rejects(others.send(new UpdateSecretCommand({ SecretId: 'up/guarded', Description: 'x' })), named('AccessDeniedException'));

    const updater = sm(
      await keysOf(
        'up-guarded',
        doc(
          allow('secretsmanager:UpdateSecret'),
          deny('secretsmanager:UpdateSecret', { StringEquals: { 'secretsmanager:resource/Type': 'partner-x' } }),
          deny('secretsmanager:UpdateSecret', { StringLike: { 'secretsmanager:Description': '*forbidden*' } }),
        ),
      ),
    );
    await assert.rejects(updater.send(new UpdateSecretCommand({ SecretId: 'up/partner', SecretString: 'x' })), named('AccessDeniedException'));
    await assert.rejects(updater.send(new UpdateSecretCommand({ SecretId: 'up/guarded', Description: 'a forbidden one' })), named('AccessDeniedException'));
    assert.deepEqual(await state('up/guarded'), before);
    assert.deepEqual(await state('up/partner'), partnerBefore);
    await updater.send(new UpdateSecretCommand({ SecretId: 'up/guarded', Description: 'allowed', SecretString: 'g2' }));
    assert.deepEqual([(await state('up/guarded')).description, (await state('up/guarded')).value], ['allowed', 'g2']);
  });

  it('gives a Type to a secret that has none (a migration to a managed external secret), judged by secretsmanager:Type, and never another', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'up/migrated', SecretString: 'm1' }));
    const before = await state('up/migrated');
    const migrator = sm(
      await keysOf(
        'up-migrator',
        doc(
          allow('secretsmanager:UpdateSecret'),
          deny('secretsmanager:UpdateSecret', { StringEquals: { 'secretsmanager:Type': 'partner-forbidden' } }),
          deny('secretsmanager:UpdateSecret', { StringEquals: { 'secretsmanager:resource/Type': 'partner-x' } }),
        ),
      ),
    );
    await assert.rejects(migrator.send(new UpdateSecretCommand({ SecretId: 'up/migrated', Type: 'partner-forbidden' })), named('AccessDeniedException'));
    assert.deepEqual(await state('up/migrated'), before);
    // An empty Type on a secret with none is no change.
    await sm().send(new UpdateSecretCommand({ SecretId: 'up/migrated', Type: '' }));
    assert.deepEqual(await state('up/migrated'), before);

    await migrator.send(new UpdateSecretCommand({ SecretId: 'up/migrated', Type: 'partner-x', SecretString: '{"partner":"format"}' }));
    const after = await state('up/migrated');
    assert.deepEqual([after.type, after.value, after.description], ['partner-x', '{"partner":"format"}', undefined]);
    assert.equal((await sm().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['up/migrated'] }] }))).SecretList?.[0]?.Type, 'partner-x');
    // From now on the secret is partner-x's: resource/Type applies, and the Type stays.
    await assert.rejects(migrator.send(new UpdateSecretCommand({ SecretId: 'up/migrated', Description: 'x' })), named('AccessDeniedException'));
    for (const Type of ['partner-y', ''])
      await assert.rejects(sm().send(new UpdateSecretCommand({ SecretId: 'up/migrated', Type })), named('InvalidParameterException'), Type);
    assert.deepEqual(await state('up/migrated'), after);
  });

  it('sets secretsmanager:KmsKeyArn to the ARN of the key KmsKeyId names, however it names it', async () => {
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const approved = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/up-other', TargetKeyId: other.KeyId! }));
    await sm().send(new CreateSecretCommand({ Name: 'up/keyed', SecretString: 'k1' }));
    const before = await state('up/keyed');
    const updater = sm(
      await keysOf(
        'up-kms',
        doc(
          allow(['secretsmanager:UpdateSecret', 'kms:GenerateDataKey', 'kms:Decrypt']),
          deny('secretsmanager:UpdateSecret', { ArnEquals: { 'secretsmanager:KmsKeyArn': other.Arn! } }),
        ),
      ),
    );
    for (const KmsKeyId of ['alias/up-other', other.KeyId!, other.Arn!]) {
      await assert.rejects(updater.send(new UpdateSecretCommand({ SecretId: 'up/keyed', KmsKeyId })), named('AccessDeniedException'), KmsKeyId);
    }
    assert.deepEqual(await state('up/keyed'), before);
    await updater.send(new UpdateSecretCommand({ SecretId: 'up/keyed', KmsKeyId: approved.KeyId! }));
    assert.equal((await state('up/keyed')).kmsKeyId, approved.KeyId);
  });
});
