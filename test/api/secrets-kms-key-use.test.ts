/**
 * A secret's customer managed KMS key is used with the caller's own permissions, as Secrets
 * Manager uses it (its guide, "Secret encryption and decryption": "it acts on behalf of the user
 * who is creating or changing the secret value", who needs kms:GenerateDataKey and kms:Decrypt
 * on the key; the encryption context is SecretARN and SecretVersionId, and establishing or
 * changing the key is validated with SecretVersionId "RequestToValidateKeyAccess"). So
 * secretsmanager:GetSecretValue alone does not read a secret under a key the caller may not
 * decrypt with, a write under a key it may not use changes nothing, and a disabled or missing
 * key is DecryptionFailure / EncryptionFailure. The AWS managed key (aws/secretsmanager, the
 * default) asks nothing more: its key policy lets the account use it through Secrets Manager.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const named = (name: string) => (e: Error) => e.name === name;
const allow = (Action: string | string[], Resource = '*', Condition?: object) => ({ Effect: 'Allow', Action, Resource, ...(Condition && { Condition }) });
const deny = (Action: string | string[], Condition: object) => ({ Effect: 'Deny', Action, Resource: '*', Condition });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const SECRETS = [
  'secretsmanager:CreateSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecret',
  'secretsmanager:DescribeSecret',
];

describe('a secret under a customer managed KMS key', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let admin: SecretsManagerClient;
  let kms: KMSClient;
  let key: { KeyId: string; Arn: string };
  let other: { KeyId: string; Arn: string };

  const sm = (credentials: Credentials) => new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const userWith = async (name: string, ...statements: object[]) => sm((await createUser(berth, iam, name, [], [doc(...statements)])).keys);
  const value = async (SecretId: string) => (await admin.send(new GetSecretValueCommand({ SecretId }))).SecretString;

  before(async () => {
    berth = await startInProcess();
    const credentials = adminCredentials(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    admin = sm(credentials);
    kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    const made = async () => {
      const m = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
      return { KeyId: m.KeyId!, Arn: m.Arn! };
    };
    key = await made();
    other = await made();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app-secrets', TargetKeyId: key.KeyId }));
  });
  after(async () => berth?.cleanup());

  it('GetSecretValue needs kms:Decrypt on the key, with the secret in the encryption context and Secrets Manager as kms:ViaService', async () => {
    const keyed = await admin.send(new CreateSecretCommand({ Name: 'ku/keyed', SecretString: 'under-the-key', KmsKeyId: 'alias/app-secrets' }));
    await admin.send(new CreateSecretCommand({ Name: 'ku/default', SecretString: 'under-the-default' }));
    await admin.send(new CreateSecretCommand({ Name: 'ku/aws-managed', SecretString: 'named-default', KmsKeyId: 'alias/aws/secretsmanager' }));

    const noKms = await userWith('ku-no-kms', allow('secretsmanager:GetSecretValue'));
    await assert.rejects(noKms.send(new GetSecretValueCommand({ SecretId: 'ku/keyed' })), named('AccessDeniedException'));
    // The default key, and the AWS managed key named, ask nothing of the caller.
    assert.equal((await noKms.send(new GetSecretValueCommand({ SecretId: 'ku/default' }))).SecretString, 'under-the-default');
    assert.equal((await noKms.send(new GetSecretValueCommand({ SecretId: 'ku/aws-managed' }))).SecretString, 'named-default');

    const otherKey = await userWith('ku-other-key', allow('secretsmanager:GetSecretValue'), allow('kms:Decrypt', other.Arn));
    await assert.rejects(otherKey.send(new GetSecretValueCommand({ SecretId: 'ku/keyed' })), named('AccessDeniedException'));

    // A key policy's usual guardrails: only through Secrets Manager, only for this secret.
    const scopedKeys = (
      await createUser(
        berth,
        iam,
        'ku-scoped',
        [],
        [
          doc(
            allow('secretsmanager:GetSecretValue'),
            allow('kms:Decrypt', key.Arn, {
              StringEquals: {
                'kms:ViaService': `secretsmanager.${berth.region}.amazonaws.com`,
                'kms:EncryptionContext:SecretARN': keyed.ARN!,
                'kms:CallerAccount': keyed.ARN!.split(':')[4]!,
              },
            }),
          ),
        ],
      )
    ).keys;
    const scoped = sm(scopedKeys);
    assert.equal((await scoped.send(new GetSecretValueCommand({ SecretId: 'ku/keyed' }))).SecretString, 'under-the-key');
    // The same permission does not reach the key directly: a call to KMS itself has no kms:ViaService.
    const EncryptionContext = { SecretARN: keyed.ARN!, SecretVersionId: keyed.VersionId! };
    const blob = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('direct'), EncryptionContext }))).CiphertextBlob;
    const scopedKms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: scopedKeys, maxAttempts: 1 });
    await assert.rejects(scopedKms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext })), named('AccessDeniedException'));

    const versionDenied = await userWith(
      'ku-version-denied',
      allow('secretsmanager:GetSecretValue'),
      allow('kms:Decrypt', key.Arn),
      deny('kms:Decrypt', { StringEquals: { 'kms:EncryptionContext:SecretVersionId': keyed.VersionId! } }),
    );
    await assert.rejects(versionDenied.send(new GetSecretValueCommand({ SecretId: 'ku/keyed' })), named('AccessDeniedException'));
  });

  it('a write under the key needs kms:GenerateDataKey, and a refused one changes nothing', async () => {
    await admin.send(new CreateSecretCommand({ Name: 'ku/written', SecretString: 'w1', KmsKeyId: key.Arn }));
    const writer = await userWith('ku-writer', allow(SECRETS), allow('kms:Decrypt', key.Arn));
    await assert.rejects(writer.send(new PutSecretValueCommand({ SecretId: 'ku/written', SecretString: 'w2' })), named('AccessDeniedException'));
    await assert.rejects(writer.send(new UpdateSecretCommand({ SecretId: 'ku/written', SecretString: 'w3' })), named('AccessDeniedException'));
    assert.equal(await value('ku/written'), 'w1');
    await assert.rejects(writer.send(new CreateSecretCommand({ Name: 'ku/new', SecretString: 'n1', KmsKeyId: key.KeyId })), named('AccessDeniedException'));
    await assert.rejects(admin.send(new DescribeSecretCommand({ SecretId: 'ku/new' })), named('ResourceNotFoundException'));

    const full = await userWith('ku-full-writer', allow(SECRETS), allow(['kms:Decrypt', 'kms:GenerateDataKey'], key.Arn));
    await full.send(new PutSecretValueCommand({ SecretId: 'ku/written', SecretString: 'w2' }));
    assert.equal(await value('ku/written'), 'w2');
    await full.send(new CreateSecretCommand({ Name: 'ku/new', SecretString: 'n1', KmsKeyId: key.KeyId }));
    assert.equal((await full.send(new GetSecretValueCommand({ SecretId: 'ku/new' }))).SecretString, 'n1');
  });

  it('naming or changing the key is validated with kms:GenerateDataKey and kms:Decrypt on the new key', async () => {
    await admin.send(new CreateSecretCommand({ Name: 'ku/moved', SecretString: 'm1' }));
    const mover = await userWith('ku-mover', allow(SECRETS), allow(['kms:Decrypt', 'kms:GenerateDataKey'], key.Arn));
    // No value: CreateSecret still validates the key it names.
    await assert.rejects(mover.send(new CreateSecretCommand({ Name: 'ku/empty', KmsKeyId: other.KeyId })), named('AccessDeniedException'));
    await assert.rejects(admin.send(new DescribeSecretCommand({ SecretId: 'ku/empty' })), named('ResourceNotFoundException'));
    await assert.rejects(mover.send(new UpdateSecretCommand({ SecretId: 'ku/moved', KmsKeyId: other.Arn })), named('AccessDeniedException'));
    assert.equal((await admin.send(new DescribeSecretCommand({ SecretId: 'ku/moved' }))).KmsKeyId, undefined);
    await mover.send(new UpdateSecretCommand({ SecretId: 'ku/moved', KmsKeyId: key.KeyId }));
    assert.equal((await admin.send(new DescribeSecretCommand({ SecretId: 'ku/moved' }))).KmsKeyId, key.KeyId);

    // Validation asks for both: kms:GenerateDataKey alone is not enough.
    const halfway = await userWith('ku-halfway', allow(SECRETS), allow('kms:GenerateDataKey', key.Arn));
    await assert.rejects(halfway.send(new CreateSecretCommand({ Name: 'ku/half', KmsKeyId: key.KeyId })), named('AccessDeniedException'));
  });

  it('a disabled key is DecryptionFailure and EncryptionFailure; a key the account does not have is EncryptionFailure', async () => {
    await admin.send(new CreateSecretCommand({ Name: 'ku/disabled', SecretString: 'd1', KmsKeyId: other.KeyId }));
    await kms.send(new DisableKeyCommand({ KeyId: other.KeyId }));
    try {
      await assert.rejects(admin.send(new GetSecretValueCommand({ SecretId: 'ku/disabled' })), named('DecryptionFailure'));
      await assert.rejects(admin.send(new PutSecretValueCommand({ SecretId: 'ku/disabled', SecretString: 'd2' })), named('EncryptionFailure'));
    } finally {
      await kms.send(new EnableKeyCommand({ KeyId: other.KeyId }));
    }
    assert.equal(await value('ku/disabled'), 'd1');

    const elsewhere = `arn:aws:kms:${berth.region}:999999999999:key/${other.KeyId}`;
    for (const KmsKeyId of ['alias/no-such-key', '00000000-0000-4000-8000-000000000000', elsewhere]) {
      await assert.rejects(admin.send(new CreateSecretCommand({ Name: 'ku/nowhere', SecretString: 'x', KmsKeyId })), named('EncryptionFailure'), KmsKeyId);
    }
    await assert.rejects(admin.send(new DescribeSecretCommand({ SecretId: 'ku/nowhere' })), named('ResourceNotFoundException'));
  });
});
