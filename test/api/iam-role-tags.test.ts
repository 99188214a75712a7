/**
 * IAM roles' tags after CreateRole, through the real SDKs: TagRole/UntagRole change them and
 * ListRoleTags lists them (paged) with IAM's limits and errors; a role's tags are its sessions'
 * aws:PrincipalTag/* from the next AssumeRole on, and its iam:ResourceTag/* for IAM actions on it.
 * Each tagging action's denied request, and the tag condition keys of TagRole/UntagRole.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetRoleCommand,
  IAMClient,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const TRUST = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' });
const named = (name: string) => (e: Error) => e.name === name;
const denied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';
const tags = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: `v${i}` }));

describe("IAM roles' tags", () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  const tagsOf = async (role: string) => (await iam.send(new ListRoleTagsCommand({ RoleName: role }))).Tags;
  const role = (name: string, roleTags: Array<{ Key: string; Value: string }> = []) =>
    iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST, ...(roleTags.length > 0 && { Tags: roleTags }) }));
  /** The access key of a new user whose inline policy is `policy`. */
  const keyOf = async (name: string, policy: string): Promise<Credentials> => {
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
  };
  /** An IAM client of a new user whose inline policy is `policy`. */
  const userWith = async (name: string, policy: string) =>
    new IAMClient({ endpoint: berth.url, region: berth.region, credentials: await keyOf(name, policy), maxAttempts: 1 });

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'rt/app' }));
  });
  after(async () => berth?.cleanup());

  it("TagRole, UntagRole and ListRoleTags change and list a role's tags, GetRole answers them", async () => {
    await role('rt-made', [{ Key: 'team', Value: 'web' }]);
    await iam.send(
      new TagRoleCommand({
        RoleName: 'RT-MADE',
        Tags: [
          { Key: 'Team', Value: 'db' },
          { Key: 'env', Value: 'prod' },
        ],
      }),
    );
    assert.deepEqual(await tagsOf('rt-made'), [
      { Key: 'Team', Value: 'db' },
      { Key: 'env', Value: 'prod' },
    ]);
    await iam.send(new UntagRoleCommand({ RoleName: 'rt-made', TagKeys: ['ENV', 'absent'] }));
    assert.deepEqual((await iam.send(new GetRoleCommand({ RoleName: 'rt-made' }))).Role!.Tags, [{ Key: 'Team', Value: 'db' }]);

    await iam.send(new TagRoleCommand({ RoleName: 'rt-made', Tags: tags(20) }));
    const first = await iam.send(new ListRoleTagsCommand({ RoleName: 'rt-made', MaxItems: 15 }));
    assert.equal(first.Tags!.length, 15);
    assert.equal(first.IsTruncated, true);
    const rest = await iam.send(new ListRoleTagsCommand({ RoleName: 'rt-made', Marker: first.Marker! }));
    assert.equal(rest.IsTruncated, false);
    assert.equal(first.Tags!.length + rest.Tags!.length, 21);
  });

  it('refuses past 50 tags, bad tags and a missing role, and changes nothing', async () => {
    await role('rt-full', tags(49));
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'rt-full', Tags: tags(2, 'x') })), named('LimitExceededException'));
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'rt-full', Tags: [{ Key: 'bad{key}', Value: 'v' }] })), (e: Error) =>
      /Validation|InvalidInput/.test(e.name),
    );
    assert.equal((await tagsOf('rt-full'))!.length, 49);
    await assert.rejects(iam.send(new TagRoleCommand({ RoleName: 'rt-nobody', Tags: tags(1) })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new ListRoleTagsCommand({ RoleName: 'rt-nobody' })), named('NoSuchEntityException'));
  });

  it("a role's tags are its sessions' principal tags from the next AssumeRole on", async () => {
    await role('rt-web');
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'rt-web',
        PolicyName: 'web-only',
        PolicyDocument: doc({ Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'web' } } }),
      }),
    );
    // Root may not assume a role (as in AWS): a user that may.
    const assumer = await keyOf('rt-assumer', doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer, maxAttempts: 1 });
    const session = async () => {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/rt-web`, RoleSessionName: 'rt-session' }))).Credentials!;
      return ecrClient(berth, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } as Credentials) as ECRClient;
    };
    const untagged = await session();
    await assert.rejects(untagged.send(new DescribeRepositoriesCommand({})), denied);
    await iam.send(new TagRoleCommand({ RoleName: 'rt-web', Tags: [{ Key: 'team', Value: 'web' }] }));
    assert.equal((await (await session()).send(new DescribeRepositoriesCommand({}))).repositories!.length > 0, true);
    await iam.send(new UntagRoleCommand({ RoleName: 'rt-web', TagKeys: ['team'] }));
    await assert.rejects((await session()).send(new DescribeRepositoriesCommand({})), denied);
  });

  it('authorizes each tagging action on the role, with its resource tags and the request tag keys', async () => {
    await role('rt-guarded', [{ Key: 'owner', Value: 'platform' }]);
    await role('rt-open');
    const helpdesk = await userWith(
      'rt-helpdesk',
      doc(
        { Effect: 'Allow', Action: ['iam:TagRole', 'iam:UntagRole', 'iam:ListRoleTags', 'iam:UpdateRole'], Resource: '*' },
        // Roles the platform owns are not the helpdesk's to change…
        { Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'iam:ResourceTag/owner': 'platform' } } },
        // …nor may it set any tag key but these.
        { Effect: 'Deny', Action: 'iam:TagRole', Resource: '*', Condition: { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['team', 'env'] } } },
      ),
    );
    await assert.rejects(helpdesk.send(new TagRoleCommand({ RoleName: 'rt-guarded', Tags: [{ Key: 'team', Value: 'x' }] })), denied);
    await assert.rejects(helpdesk.send(new UntagRoleCommand({ RoleName: 'rt-guarded', TagKeys: ['owner'] })), denied);
    await assert.rejects(helpdesk.send(new ListRoleTagsCommand({ RoleName: 'rt-guarded' })), denied);
    await assert.rejects(helpdesk.send(new TagRoleCommand({ RoleName: 'rt-open', Tags: [{ Key: 'owner', Value: 'platform' }] })), denied);
    assert.deepEqual(await tagsOf('rt-guarded'), [{ Key: 'owner', Value: 'platform' }]);
    assert.deepEqual(await tagsOf('rt-open'), []);

    await helpdesk.send(new TagRoleCommand({ RoleName: 'rt-open', Tags: [{ Key: 'team', Value: 'web' }] }));
    assert.deepEqual((await helpdesk.send(new ListRoleTagsCommand({ RoleName: 'rt-open' }))).Tags, [{ Key: 'team', Value: 'web' }]);
    await helpdesk.send(new UntagRoleCommand({ RoleName: 'rt-open', TagKeys: ['team'] }));
    assert.deepEqual(await tagsOf('rt-open'), []);

    // Without the permission: refused.
    const nobody = await userWith('rt-nobody-user', doc({ Effect: 'Allow', Action: 'iam:UpdateRole', Resource: '*' }));
    await assert.rejects(nobody.send(new TagRoleCommand({ RoleName: 'rt-open', Tags: [{ Key: 'team', Value: 'web' }] })), denied);
    await assert.rejects(nobody.send(new UntagRoleCommand({ RoleName: 'rt-open', TagKeys: ['team'] })), denied);
    await assert.rejects(nobody.send(new ListRoleTagsCommand({ RoleName: 'rt-open' })), denied);
    await nobody.send(new UpdateRoleCommand({ RoleName: 'rt-open', Description: 'still allowed' }));
  });
});
