/**
 * What IAM answers a tagging request that names a key twice or names nothing, through the real
 * SDK, for every action that takes IAM tags (users, roles, customer managed policies): a key twice
 * in one request, in any case, is InvalidInput (IAM: "Duplicate tag keys found. Please note that
 * Tag keys are case insensitive."); TagX and UntagX without their list is the model's null refusal
 * (`Tags`/`TagKeys` are required), and with an empty one InvalidInput. Each refusal changes nothing.
 */
import {
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  ListPoliciesCommand,
  ListPolicyTagsCommand,
  ListRoleTagsCommand,
  ListUserTagsCommand,
  TagPolicyCommand,
  TagRoleCommand,
  TagUserCommand,
  UntagPolicyCommand,
  UntagRoleCommand,
  UntagUserCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const TRUST = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' });
const POLICY = doc({ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' });
const TWICE = [
  { Key: 'team', Value: 'web' },
  { Key: 'Team', Value: 'db' },
];
const KEPT = [{ Key: 'kept', Value: 'yes' }];

/** A refusal with this error name, status and message. */
const refusal = (name: string, message: RegExp) => (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
  assert.equal(e.name, name, e.message);
  assert.equal(e.$metadata?.httpStatusCode, 400);
  assert.match(e.message, message);
  return true;
};
const DUPLICATE = refusal('InvalidInputException', /^Duplicate tag keys found\. Please note that Tag keys are case insensitive\.$/);
const EMPTY = refusal('InvalidInputException', /at least one/);
const nullAt = (member: string) => refusal('ValidationError', new RegExp(`Value null at '${member}' failed to satisfy constraint: Member must not be null`));

describe('IAM tag requests that name a key twice or nothing', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let policyArn: string;

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'tr-user', Tags: KEPT }));
    await iam.send(new CreateRoleCommand({ RoleName: 'tr-role', AssumeRolePolicyDocument: TRUST, Tags: KEPT }));
    policyArn = (await iam.send(new CreatePolicyCommand({ PolicyName: 'tr-policy', PolicyDocument: POLICY, Tags: KEPT }))).Policy!.Arn!;
  });
  after(async () => berth?.cleanup());

  const userTags = async () => (await iam.send(new ListUserTagsCommand({ UserName: 'tr-user' }))).Tags;
  const roleTags = async () => (await iam.send(new ListRoleTagsCommand({ RoleName: 'tr-role' }))).Tags;
  const policyTags = async () => (await iam.send(new ListPolicyTagsCommand({ PolicyArn: policyArn }))).Tags;

  it('refuses a key named twice in any case on CreateUser, CreateRole and CreatePolicy, and makes nothing', async () => {
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'tr-dup', Tags: TWICE })), DUPLICATE);
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'tr-dup' })), (e: Error) => e.name === 'NoSuchEntityException');
    await assert.rejects(iam.send(new CreateRoleCommand({ RoleName: 'tr-dup', AssumeRolePolicyDocument: TRUST, Tags: TWICE })), DUPLICATE);
    await assert.rejects(iam.send(new GetRoleCommand({ RoleName: 'tr-dup' })), (e: Error) => e.name === 'NoSuchEntityException');
    await assert.rejects(iam.send(new CreatePolicyCommand({ PolicyName: 'tr-dup', PolicyDocument: POLICY, Tags: TWICE })), DUPLICATE);
    const names = (await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies!.map((p) => p.PolicyName);
    assert.ok(!names.includes('tr-dup'), 'no policy was made');
  });

  it('refuses a key named twice in any case on TagUser, TagRole and TagPolicy, and changes nothing', async () => {
    await assert.rejects(iam.send(new TagUserCommand({ UserName: 'tr-user', Tags: TWICE })), DUPLICATE);
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'tr-role', Tags: TWICE })), DUPLICATE);
    await assert.rejects(iam.send(new TagPolicyCommand({ PolicyArn: policyArn, Tags: TWICE })), DUPLICATE);
    assert.deepEqual(await userTags(), KEPT);
    assert.deepEqual(await roleTags(), KEPT);
    assert.deepEqual(await policyTags(), KEPT);
  });

  it('refuses TagX and UntagX without their list (the model requires it), and changes nothing', async () => {
    await assert.rejects(iam.send(new TagUserCommand({ UserName: 'tr-user' } as never)), nullAt('tags'));
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'tr-role' } as never)), nullAt('tags'));
    await assert.rejects(iam.send(new TagPolicyCommand({ PolicyArn: policyArn } as never)), nullAt('tags'));
    await assert.rejects(iam.send(new UntagUserCommand({ UserName: 'tr-user' } as never)), nullAt('tagKeys'));
    await assert.rejects(iam.send(new UntagRoleCommand({ RoleName: 'tr-role' } as never)), nullAt('tagKeys'));
    await assert.rejects(iam.send(new UntagPolicyCommand({ PolicyArn: policyArn } as never)), nullAt('tagKeys'));
    assert.deepEqual(await userTags(), KEPT);
    assert.deepEqual(await roleTags(), KEPT);
    assert.deepEqual(await policyTags(), KEPT);
  });

  it('refuses TagX and UntagX with an empty list with InvalidInput, and changes nothing', async () => {
    await assert.rejects(iam.send(new TagUserCommand({ UserName: 'tr-user', Tags: [] })), EMPTY);
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'tr-role', Tags: [] })), EMPTY);
    await assert.rejects(iam.send(new TagPolicyCommand({ PolicyArn: policyArn, Tags: [] })), EMPTY);
    await assert.rejects(iam.send(new UntagUserCommand({ UserName: 'tr-user', TagKeys: [] })), EMPTY);
    await assert.rejects(iam.send(new UntagRoleCommand({ RoleName: 'tr-role', TagKeys: [] })), EMPTY);
    await assert.rejects(iam.send(new UntagPolicyCommand({ PolicyArn: policyArn, TagKeys: [] })), EMPTY);
    assert.deepEqual(await userTags(), KEPT);
    assert.deepEqual(await roleTags(), KEPT);
    assert.deepEqual(await policyTags(), KEPT);
  });
});
