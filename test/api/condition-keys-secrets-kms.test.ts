/**
 * Secrets Manager's and KMS's condition keys through the real SDKs: for each, the guardrail a
 * policy writes with a negated operator or `ForAllValues:` (or a Deny with a positive operator),
 * the request it must refuse, and the request it must still allow. Before these keys were set
 * every refusal here was an Allow. Sources: notes/2026-12-07-s31-condkeys.md (the table of keys).
 */
import { CreateAliasCommand, CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const denied = (e: Error) => e.name === 'AccessDeniedException';
const allow = (Action: string | string[], Condition?: object) => ({ Effect: 'Allow', Action, Resource: '*', ...(Condition && { Condition }) });
const deny = (Action: string | string[], Condition: object) => ({ Effect: 'Deny', Action, Resource: '*', Condition });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

describe('condition keys of Secrets Manager and KMS', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let adminSm: SecretsManagerClient;
  let adminKms: KMSClient;

  const keysOf = async (name: string, policy: object): Promise<Credentials> => (await createUser(berth, iam, name, [], [policy])).keys;
  const sm = (credentials: Credentials) => new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const kms = (credentials: Credentials) => new KMSClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });

  before(async () => {
    berth = await startInProcess({ sqliteFile: true });
    const admin = adminCredentials(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });
    adminSm = sm(admin);
    adminKms = kms(admin);
  });
  after(async () => berth?.cleanup());

  it('CreateSecret, TagResource, UntagResource: aws:TagKeys, aws:RequestTag and secretsmanager:Name', async () => {
    const creator = sm(
      await keysOf(
        'ck-secret-creator',
        doc(
          allow('secretsmanager:CreateSecret', {
            'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] },
            StringNotLike: { 'secretsmanager:Name': 'prod/*' },
          }),
          allow('secretsmanager:TagResource', { StringNotEquals: { 'aws:RequestTag/class': 'restricted' } }),
          allow('secretsmanager:UntagResource', { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['class'] } }),
          allow('secretsmanager:DescribeSecret'),
        ),
      ),
    );
    await assert.rejects(creator.send(new CreateSecretCommand({ Name: 'ck/owner', SecretString: 'x', Tags: [{ Key: 'owner', Value: 'me' }] })), denied);
    await assert.rejects(creator.send(new CreateSecretCommand({ Name: 'prod/db', SecretString: 'x' })), denied);
    await assert.rejects(adminSm.send(new DescribeSecretCommand({ SecretId: 'ck/owner' })), (e: Error) => e.name === 'ResourceNotFoundException');
    await creator.send(new CreateSecretCommand({ Name: 'ck/team', SecretString: 'x', Tags: [{ Key: 'team', Value: 'a' }] }));
    await assert.rejects(creator.send(new TagResourceCommand({ SecretId: 'ck/team', Tags: [{ Key: 'class', Value: 'restricted' }] })), denied);
    await creator.send(new TagResourceCommand({ SecretId: 'ck/team', Tags: [{ Key: 'class', Value: 'internal' }] }));
    await assert.rejects(creator.send(new UntagResourceCommand({ SecretId: 'ck/team', TagKeys: ['class'] })), denied);
    await creator.send(new UntagResourceCommand({ SecretId: 'ck/team', TagKeys: ['team'] }));
    assert.deepEqual((await adminSm.send(new DescribeSecretCommand({ SecretId: 'ck/team' }))).Tags, [{ Key: 'class', Value: 'internal' }]);
  });

  it('GetSecretValue and DeleteSecret: secretsmanager:ResourceTag, secretsmanager:SecretId and ForceDeleteWithoutRecovery', async () => {
    const restricted = await adminSm.send(new CreateSecretCommand({ Name: 'ck/restricted', SecretString: 'r', Tags: [{ Key: 'class', Value: 'restricted' }] }));
    await adminSm.send(new CreateSecretCommand({ Name: 'ck/plain', SecretString: 'p' }));
    await adminSm.send(new CreateSecretCommand({ Name: 'ck/other', SecretString: 'o' }));
    const reader = sm(
      await keysOf(
        'ck-secret-reader',
        doc(
          allow('secretsmanager:GetSecretValue', { StringNotEquals: { 'secretsmanager:ResourceTag/class': 'restricted' } }),
          allow('secretsmanager:GetSecretValue', { StringNotEquals: { 'aws:ResourceTag/class': 'restricted' } }),
          allow('secretsmanager:DeleteSecret', { ArnNotLike: { 'secretsmanager:SecretId': restricted.ARN! } }),
          deny('secretsmanager:DeleteSecret', { Bool: { 'secretsmanager:ForceDeleteWithoutRecovery': 'true' } }),
        ),
      ),
    );
    await assert.rejects(reader.send(new GetSecretValueCommand({ SecretId: 'ck/restricted' })), denied);
    assert.equal((await reader.send(new GetSecretValueCommand({ SecretId: 'ck/plain' }))).SecretString, 'p');
    await assert.rejects(reader.send(new DeleteSecretCommand({ SecretId: 'ck/restricted', RecoveryWindowInDays: 7 })), denied);
    await assert.rejects(reader.send(new DeleteSecretCommand({ SecretId: 'ck/plain', ForceDeleteWithoutRecovery: true })), denied);
    assert.equal((await adminSm.send(new DescribeSecretCommand({ SecretId: 'ck/plain' }))).DeletedDate, undefined, 'the refused deletion changed nothing');
    assert.ok((await reader.send(new DeleteSecretCommand({ SecretId: 'ck/other', RecoveryWindowInDays: 7 }))).DeletionDate);
  });

  it('KMS: kms:ResourceAliases, kms:RequestAlias and kms:CallerAccount', async () => {
    const restricted = (await adminKms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const open = (await adminKms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await adminKms.send(new CreateAliasCommand({ AliasName: 'alias/restricted-db', TargetKeyId: restricted }));
    await adminKms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: open }));
    const legacy = (await adminKms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await adminKms.send(new CreateAliasCommand({ AliasName: 'alias/app-legacy', TargetKeyId: legacy }));
    const user = kms(
      await keysOf(
        'ck-kms-user',
        doc(
          allow('kms:Encrypt', {
            'ForAllValues:StringNotLike': { 'kms:ResourceAliases': 'alias/restricted-*' },
            StringNotEquals: { 'kms:RequestAlias': 'alias/app-legacy' },
          }),
        ),
      ),
    );
    const encrypt = (KeyId: string) => user.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') }));
    await assert.rejects(encrypt(restricted), denied, 'a key whose alias is excluded, named by its id');
    await assert.rejects(encrypt('alias/restricted-db'), denied);
    assert.ok((await encrypt(open)).CiphertextBlob);
    assert.ok((await encrypt('alias/app')).CiphertextBlob);
    await assert.rejects(encrypt('alias/app-legacy'), denied, 'a key named by the excluded alias');
    assert.ok((await encrypt(legacy)).CiphertextBlob, 'the same key named by its id');
    // kms:CallerAccount: a Deny on the caller's own account refuses it.
    const own = kms(await keysOf('ck-kms-own', doc(allow('kms:*'), deny('kms:Encrypt', { StringEquals: { 'kms:CallerAccount': '000000000000' } }))));
    await assert.rejects(own.send(new EncryptCommand({ KeyId: open, Plaintext: Buffer.from('x') })), denied);
    assert.ok((await own.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId, 'what the Deny does not name is still allowed');
  });
});
