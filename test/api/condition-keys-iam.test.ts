/**
 * The condition keys AWS puts in the request context of IAM and STS calls, the global ones of
 * every call, and ECR Public's name for a repository's tags, through the real SDKs: for each, the guardrail a policy writes with a negated
 * operator (`ArnNotEquals`, `StringNotEquals`, `ForAllValues:`) or a Deny with a positive one,
 * the request it must refuse, and the request it must still allow. Before these keys were set a
 * missing key made each negated condition hold (and each Deny miss), so every refusal here was an
 * Allow. Sources: notes/2026-12-07-s31-condkeys.md (the table of keys).
 */
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand, DescribeImageTagsCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedUserPoliciesCommand,
  ListPolicyTagsCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UntagPolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const FULL = `${MANAGED}FullAccess`;
const READ_ONLY = `${MANAGED}ReadOnly`;
const iamDenied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';
const allow = (Action: string | string[], Condition?: object) => ({ Effect: 'Allow', Action, Resource: '*', ...(Condition && { Condition }) });
const deny = (Action: string | string[], Condition: object) => ({ Effect: 'Deny', Action, Resource: '*', Condition });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
/** Any caller of the account may assume the role its identity policies let it. */
const TRUST = JSON.stringify(doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }));

describe('condition keys of IAM, STS and every request', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  /** The IAM client of a new user whose one inline policy is `policy`. */
  const userWith = async (name: string, policy: object): Promise<{ iam: IAMClient; keys: Credentials }> => {
    const u = await createUser(berth, iam, name, [], [policy]);
    return { iam: new IAMClient({ endpoint: berth.url, region: berth.region, credentials: u.keys, maxAttempts: 1 }), keys: u.keys };
  };

  before(async () => {
    berth = await startInProcess({ sqliteFile: true });
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it('iam:PolicyARN: "attach any policy but this one" refuses that one on users, roles and groups', async () => {
    const guard = await userWith(
      'ck-attacher',
      doc(allow(['iam:AttachUserPolicy', 'iam:AttachRolePolicy', 'iam:AttachGroupPolicy'], { ArnNotEquals: { 'iam:PolicyARN': FULL } })),
    );
    await iam.send(new CreateUserCommand({ UserName: 'ck-target' }));
    await iam.send(new CreateRoleCommand({ RoleName: 'ck-target-role', AssumeRolePolicyDocument: TRUST }));
    await iam.send(new CreateGroupCommand({ GroupName: 'ck-target-group' }));
    await assert.rejects(guard.iam.send(new AttachUserPolicyCommand({ UserName: 'ck-target', PolicyArn: FULL })), iamDenied);
    await assert.rejects(guard.iam.send(new AttachRolePolicyCommand({ RoleName: 'ck-target-role', PolicyArn: FULL })), iamDenied);
    await assert.rejects(guard.iam.send(new AttachGroupPolicyCommand({ GroupName: 'ck-target-group', PolicyArn: FULL })), iamDenied);
    const attached = async () => (await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'ck-target' }))).AttachedPolicies!.map((p) => p.PolicyArn);
    assert.deepEqual(await attached(), [], 'the refused attachment changed nothing');
    await guard.iam.send(new AttachUserPolicyCommand({ UserName: 'ck-target', PolicyArn: READ_ONLY }));
    await guard.iam.send(new AttachRolePolicyCommand({ RoleName: 'ck-target-role', PolicyArn: READ_ONLY }));
    assert.deepEqual(await attached(), [READ_ONLY], 'any other policy may be attached');
  });

  it('aws:TagKeys and aws:RequestTag on the IAM actions that tag: ForAllValues and negated operators refuse the tags they exclude', async () => {
    const tagger = await userWith(
      'ck-tagger',
      doc(
        allow(['iam:CreateRole', 'iam:CreatePolicy'], { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } }),
        allow('iam:UntagPolicy', { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['protected'] } }),
        deny('iam:CreateRole', { StringEquals: { 'aws:RequestTag/env': 'prod' } }),
      ),
    );
    const policyDocument = JSON.stringify(doc(allow('ecr:DescribeRepositories')));
    await assert.rejects(
      tagger.iam.send(new CreateRoleCommand({ RoleName: 'ck-owner', AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'owner', Value: 'me' }] })),
      iamDenied,
    );
    await assert.rejects(
      tagger.iam.send(new CreateRoleCommand({ RoleName: 'ck-prod', AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'env', Value: 'prod' }] })),
      iamDenied,
    );
    await assert.rejects(
      tagger.iam.send(new CreatePolicyCommand({ PolicyName: 'ck-owner', PolicyDocument: policyDocument, Tags: [{ Key: 'owner', Value: 'me' }] })),
      iamDenied,
    );
    await tagger.iam.send(new CreateRoleCommand({ RoleName: 'ck-team', AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'team', Value: 'a' }] }));
    const created = await tagger.iam.send(
      new CreatePolicyCommand({ PolicyName: 'ck-tagged', PolicyDocument: policyDocument, Tags: [{ Key: 'env', Value: 'dev' }] }),
    );
    const PolicyArn = created.Policy!.Arn!;
    // UntagPolicy's aws:TagKeys are the keys it removes.
    await iam.send(new CreatePolicyCommand({ PolicyName: 'ck-protected', PolicyDocument: policyDocument, Tags: [{ Key: 'protected', Value: 'yes' }] }));
    const protectedArn = `arn:aws:iam::${ACCOUNT}:policy/ck-protected`;
    await assert.rejects(tagger.iam.send(new UntagPolicyCommand({ PolicyArn: protectedArn, TagKeys: ['protected'] })), iamDenied);
    assert.deepEqual((await iam.send(new ListPolicyTagsCommand({ PolicyArn: protectedArn }))).Tags, [{ Key: 'protected', Value: 'yes' }]);
    await tagger.iam.send(new UntagPolicyCommand({ PolicyArn, TagKeys: ['env'] }));
  });

  it('aws:ResourceTag and iam:ResourceTag: a role or customer policy tagged as excluded is refused, others are not', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'ck-critical', AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'tier', Value: 'critical' }] }));
    await iam.send(new CreateRoleCommand({ RoleName: 'ck-ordinary', AssumeRolePolicyDocument: TRUST }));
    const policyDocument = JSON.stringify(doc(allow('ecr:DescribeRepositories')));
    await iam.send(new CreatePolicyCommand({ PolicyName: 'ck-locked', PolicyDocument: policyDocument, Tags: [{ Key: 'locked', Value: 'true' }] }));
    await iam.send(new CreatePolicyCommand({ PolicyName: 'ck-open', PolicyDocument: policyDocument }));
    const editor = await userWith(
      'ck-editor',
      doc(
        allow('iam:PutRolePolicy', { StringNotEquals: { 'iam:ResourceTag/tier': 'critical' } }),
        allow('iam:CreatePolicyVersion', { StringNotEquals: { 'aws:ResourceTag/locked': 'true' } }),
      ),
    );
    const put = (RoleName: string) => editor.iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: 'p', PolicyDocument: policyDocument }));
    await assert.rejects(put('ck-critical'), iamDenied);
    await put('ck-ordinary');
    const version = (name: string) =>
      editor.iam.send(new CreatePolicyVersionCommand({ PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/${name}`, PolicyDocument: policyDocument }));
    await assert.rejects(version('ck-locked'), iamDenied);
    await version('ck-open');
  });

  it('sts:AssumeRole sees its session tags: a trust policy refusing a tag refuses the role', async () => {
    const trust = doc(
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'sts:AssumeRole',
        Condition: { StringNotEquals: { 'aws:RequestTag/role': 'admin' } },
      },
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:TagSession' },
    );
    await iam.send(new CreateRoleCommand({ RoleName: 'ck-tagged-sessions', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    const assumer = await createUser(berth, iam, 'ck-assumer', [], [doc(allow(['sts:AssumeRole', 'sts:TagSession']))]);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const assume = (Value: string) =>
      sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ck-tagged-sessions`, RoleSessionName: 'ck', Tags: [{ Key: 'role', Value }] }));
    await assert.rejects(assume('admin'), iamDenied);
    assert.ok((await assume('reader')).Credentials?.SessionToken);
    // ForAllValues on sts:AssumeRole's aws:TagKeys: only the listed session tag keys.
    const listed = doc(
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'sts:AssumeRole',
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } },
      },
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:TagSession' },
    );
    await iam.send(new CreateRoleCommand({ RoleName: 'ck-team-sessions', AssumeRolePolicyDocument: JSON.stringify(listed) }));
    const assumeTeam = (Key: string) =>
      sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ck-team-sessions`, RoleSessionName: 'ck', Tags: [{ Key, Value: 'x' }] }));
    await assert.rejects(assumeTeam('admin'), iamDenied);
    assert.ok((await assumeTeam('team')).Credentials?.SessionToken);
  });

  it('global keys: aws:userid, aws:RequestedRegion and aws:SecureTransport are in every request', async () => {
    // "Anyone but this user id", "any region but us-east-1" (IAM's own), and no listing over plain HTTP.
    const excluded = await createUser(berth, iam, 'ck-excluded', []);
    const userId = (await iam.send(new GetUserCommand({ UserName: 'ck-excluded' }))).User!.UserId!;
    assert.match(userId, /^AIDA/);
    const notMe = doc(allow('ecr:DescribeRepositories', { StringNotEquals: { 'aws:userid': userId } }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'ck-excluded', PolicyName: 'not-me', PolicyDocument: JSON.stringify(notMe) }));
    const other = await createUser(
      berth,
      iam,
      'ck-other',
      [],
      [
        notMe,
        doc(
          allow('iam:ListAttachedUserPolicies', { StringNotEquals: { 'aws:RequestedRegion': 'us-east-1' } }),
          allow(['iam:GetUser', 'iam:ListUsers']),
          deny('iam:ListUsers', { Bool: { 'aws:SecureTransport': 'false' } }),
        ),
      ],
    );
    await assert.rejects(excluded.ecr.send(new DescribeRepositoriesCommand({})), iamDenied, 'the excluded user id is refused');
    assert.ok((await other.ecr.send(new DescribeRepositoriesCommand({}))).repositories, "another user's id is not excluded");
    const otherIam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: other.keys, maxAttempts: 1 });
    await assert.rejects(otherIam.send(new ListAttachedUserPoliciesCommand({ UserName: 'ck-other' })), iamDenied, 'IAM is called in us-east-1');
    await assert.rejects(otherIam.send(new ListUsersCommand({})), iamDenied, 'plain HTTP is not secure transport');
    assert.equal((await otherIam.send(new GetUserCommand({}))).User?.UserName, 'ck-other', 'what the Deny does not name is still allowed');
  });

  it('aws:TokenIssueTime revokes sessions issued before a time; aws:MultiFactorAuthPresent is false for a session, absent for an access key', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const roles = {
      // IAM's "revoke active sessions": sessions issued before the revocation time are refused.
      'ck-revoked': deny('ecr:*', { DateLessThan: { 'aws:TokenIssueTime': later } }),
      'ck-revoked-long-ago': deny('ecr:*', { DateLessThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' } }),
      'ck-mfa-only': deny('ecr:*', { Bool: { 'aws:MultiFactorAuthPresent': 'false' } }),
    };
    for (const [RoleName, refusal] of Object.entries(roles)) {
      await iam.send(new CreateRoleCommand({ RoleName, AssumeRolePolicyDocument: TRUST }));
      await iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: 'p', PolicyDocument: JSON.stringify(doc(allow('ecr:DescribeRepositories'), refusal)) }));
    }
    const assumer = await createUser(
      berth,
      iam,
      'ck-session-maker',
      [],
      [doc(allow('sts:AssumeRole'), allow('ecr:DescribeRepositories'), roles['ck-mfa-only'])],
    );
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const session = async (role: string) => {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`, RoleSessionName: 'ck' }))).Credentials!;
      const credentials = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
      return ecrClient(berth, credentials);
    };
    await assert.rejects((await session('ck-revoked')).send(new DescribeRepositoriesCommand({})), iamDenied, 'a session issued before the revocation');
    assert.ok((await (await session('ck-revoked-long-ago')).send(new DescribeRepositoriesCommand({}))).repositories, 'one issued after it');
    await assert.rejects((await session('ck-mfa-only')).send(new DescribeRepositoriesCommand({})), iamDenied, 'a session without MFA');
    // IAM leaves aws:MultiFactorAuthPresent out for long-term keys, so `Bool ... false` does not match them.
    assert.ok((await assumer.ecr.send(new DescribeRepositoriesCommand({}))).repositories);
  });

  it('ecr-public:ResourceTag: a Deny on a public repository tag refuses the repository so tagged', async () => {
    const pub = (credentials: Credentials) => new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const admin = pub(adminCredentials(berth));
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'ck-prod', tags: [{ Key: 'env', Value: 'prod' }] }));
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'ck-dev', tags: [{ Key: 'env', Value: 'dev' }] }));
    const u = await createUser(
      berth,
      iam,
      'ck-public',
      [],
      [doc(allow('ecr-public:*'), deny('ecr-public:*', { StringEquals: { 'ecr-public:ResourceTag/env': 'prod' } }))],
    );
    await assert.rejects(pub(u.keys).send(new DescribeImageTagsCommand({ repositoryName: 'ck-prod' })), iamDenied);
    assert.deepEqual((await pub(u.keys).send(new DescribeImageTagsCommand({ repositoryName: 'ck-dev' }))).imageTagDetails, []);
  });
});
