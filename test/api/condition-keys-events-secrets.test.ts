/**
 * EventBridge's own condition keys and Secrets Manager's secretsmanager:KmsKeyArn, :Type and
 * :resource/Type through the real SDKs. A key missing from the request context makes a negated operator (and `ForAllValues:`) hold
 * and a positive one miss, so a guardrail written as an Allow with a negated operator, or as a
 * Deny with a positive one, allowed everything while the key was unset. Each refusal below was an
 * Allow before these keys were set; each allowed request shows the guardrail still lets the rest
 * through. (A Deny with a negated operator refuses when the key is missing: it fails closed.)
 */
import { DeleteRuleCommand, DescribeRuleCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const denied = (e: Error) => e.name === 'AccessDeniedException';
const allow = (Action: string | string[], Condition?: object) => ({ Effect: 'Allow', Action, Resource: '*', ...(Condition && { Condition }) });
const deny = (Action: string | string[], Condition: object) => ({ Effect: 'Deny', Action, Resource: '*', Condition });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const pattern = (p: object) => JSON.stringify(p);

describe('condition keys of EventBridge and secretsmanager:KmsKeyArn', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let adminEvents: EventBridgeClient;

  const keysOf = async (name: string, policy: object): Promise<Credentials> => (await createUser(berth, iam, name, [], [policy])).keys;
  const events = (credentials: Credentials) => new EventBridgeClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const sm = (credentials: Credentials) => new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });

  before(async () => {
    berth = await startInProcess({ sqliteFile: true });
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    adminEvents = events(adminCredentials(berth));
  });
  after(async () => berth?.cleanup());

  it('PutRule: events:source, events:detail-type, events:detail.userIdentity.principalId and events:detail.service from the event pattern', async () => {
    const maker = events(
      await keysOf(
        'ck-rule-maker',
        doc(
          allow('events:PutRule', { 'ForAllValues:StringEquals': { 'events:source': ['aws.ecr'] } }),
          deny('events:PutRule', { StringEquals: { 'events:detail-type': 'AWS API Call via CloudTrail' } }),
          deny('events:PutRule', { StringLike: { 'events:detail.userIdentity.principalId': 'AIDA*' } }),
          deny('events:PutRule', { StringEquals: { 'events:detail.service': 'ECR' } }),
        ),
      ),
    );
    await assert.rejects(maker.send(new PutRuleCommand({ Name: 'ck-any-source', EventPattern: pattern({ source: ['aws.ecr', 'aws.s3'] }) })), denied);
    await assert.rejects(
      maker.send(new PutRuleCommand({ Name: 'ck-api-calls', EventPattern: pattern({ source: ['aws.ecr'], 'detail-type': ['AWS API Call via CloudTrail'] }) })),
      denied,
    );
    await assert.rejects(
      maker.send(
        new PutRuleCommand({
          Name: 'ck-admin-calls',
          EventPattern: pattern({ source: ['aws.ecr'], detail: { userIdentity: { principalId: ['AIDAEXAMPLEUSER'] } } }),
        }),
      ),
      denied,
    );
    await assert.rejects(
      maker.send(new PutRuleCommand({ Name: 'ck-service', EventPattern: pattern({ source: ['aws.ecr'], detail: { service: ['ECR'] } }) })),
      denied,
    );
    await assert.rejects(adminEvents.send(new DescribeRuleCommand({ Name: 'ck-any-source' })), (e: Error) => e.name === 'ResourceNotFoundException');
    await maker.send(new PutRuleCommand({ Name: 'ck-pushes', EventPattern: pattern({ source: ['aws.ecr'], 'detail-type': ['ECR Image Action'] }) }));
  });

  it('PutTargets: events:TargetArn; actions on a rule: events:creatorAccount', async () => {
    await adminEvents.send(new PutRuleCommand({ Name: 'ck-targets', EventPattern: pattern({ source: ['aws.ecr'] }) }));
    await adminEvents.send(new PutRuleCommand({ Name: 'ck-kept', EventPattern: pattern({ source: ['aws.ecr'] }) }));
    const user = events(
      await keysOf(
        'ck-rule-user',
        doc(
          allow('events:PutTargets', { 'ForAllValues:ArnLike': { 'events:TargetArn': `arn:aws:events:*:${ACCOUNT}:api-destination/*` } }),
          allow(['events:DeleteRule', 'events:DescribeRule']),
          deny('events:DeleteRule', { StringEquals: { 'events:creatorAccount': ACCOUNT } }),
        ),
      ),
    );
    const sqs = [{ Id: 'q', Arn: `arn:aws:sqs:${berth.region}:${ACCOUNT}:q` }];
    await assert.rejects(user.send(new PutTargetsCommand({ Rule: 'ck-targets', Targets: sqs })), denied);
    // An API destination's ARN passes the guardrail (the destination need not exist for the decision).
    const dest = [{ Id: 'd', Arn: `arn:aws:events:${berth.region}:${ACCOUNT}:api-destination/none/0000` }];
    await user.send(new PutTargetsCommand({ Rule: 'ck-targets', Targets: dest })).catch((e: Error) => assert.ok(!denied(e), `${e.name}: ${e.message}`));
    await assert.rejects(user.send(new DeleteRuleCommand({ Name: 'ck-kept' })), denied);
    assert.equal((await user.send(new DescribeRuleCommand({ Name: 'ck-kept' }))).Name, 'ck-kept', 'the refused delete changed nothing');
  });

  it('CreateSecret: secretsmanager:KmsKeyArn is the ARN of the key KmsKeyId names, however it names it', async () => {
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const approved = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/ck-other', TargetKeyId: other.KeyId! }));
    const creator = sm(
      await keysOf(
        'ck-secret-kms',
        doc(
          allow('secretsmanager:CreateSecret', { ArnNotEquals: { 'secretsmanager:KmsKeyArn': other.Arn! } }),
          deny('secretsmanager:CreateSecret', { ArnEquals: { 'secretsmanager:KmsKeyArn': other.Arn! } }),
          // Secrets Manager uses the key with the caller's permissions (secrets-kms-key-use.test.ts).
          allow(['kms:GenerateDataKey', 'kms:Decrypt']),
        ),
      ),
    );
    // The key named by alias, by key id and by ARN: each is the one key the guardrail names by ARN.
    for (const KmsKeyId of ['alias/ck-other', other.KeyId!, other.Arn!]) {
      await assert.rejects(creator.send(new CreateSecretCommand({ Name: `ck/kms-${KmsKeyId.length}`, SecretString: 'x', KmsKeyId })), denied, KmsKeyId);
    }
    const admin = sm(adminCredentials(berth));
    await assert.rejects(admin.send(new DescribeSecretCommand({ SecretId: 'ck/kms-15' })), (e: Error) => e.name === 'ResourceNotFoundException');
    await creator.send(new CreateSecretCommand({ Name: 'ck/kms-approved', SecretString: 'x', KmsKeyId: approved.KeyId! }));
  });

  it('CreateSecret: secretsmanager:Type is the Type the request names', async () => {
    const creator = sm(await keysOf('ck-secret-type', doc(allow('secretsmanager:CreateSecret', { StringNotEquals: { 'secretsmanager:Type': 'partner-x' } }))));
    await assert.rejects(creator.send(new CreateSecretCommand({ Name: 'ck/typed', SecretString: 'x', Type: 'partner-x' })), denied);
    await creator.send(new CreateSecretCommand({ Name: 'ck/untyped', SecretString: 'x' }));
  });

  it('actions on a secret: secretsmanager:resource/Type is the Type it was created with, which DescribeSecret and ListSecrets answer', async () => {
    const admin = sm(adminCredentials(berth));
    await admin.send(new CreateSecretCommand({ Name: 'ck/partner', SecretString: 'p', Type: 'partner-x' }));
    await admin.send(new CreateSecretCommand({ Name: 'ck/plain', SecretString: 'q' }));
    assert.equal((await admin.send(new DescribeSecretCommand({ SecretId: 'ck/partner' }))).Type, 'partner-x');
    assert.equal((await admin.send(new DescribeSecretCommand({ SecretId: 'ck/plain' }))).Type, undefined);
    const listed = (await admin.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['ck/p'] }] }))).SecretList ?? [];
    assert.deepEqual(listed.map((e) => [e.Name, e.Type]).sort(), [
      ['ck/partner', 'partner-x'],
      ['ck/plain', undefined],
    ]);

    const notPartner = { StringNotEquals: { 'secretsmanager:resource/Type': 'partner-x' } };
    const allowing = sm(await keysOf('ck-secret-rtype-allow', doc(allow('secretsmanager:GetSecretValue', notPartner))));
    const denying = sm(
      await keysOf(
        'ck-secret-rtype-deny',
        doc(allow('secretsmanager:GetSecretValue'), deny('secretsmanager:GetSecretValue', { StringEquals: { 'secretsmanager:resource/Type': 'partner-x' } })),
      ),
    );
    for (const reader of [allowing, denying]) {
      await assert.rejects(reader.send(new GetSecretValueCommand({ SecretId: 'ck/partner' })), denied);
      assert.equal((await reader.send(new GetSecretValueCommand({ SecretId: 'ck/plain' }))).SecretString, 'q');
    }
  });
});
