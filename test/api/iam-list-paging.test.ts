/**
 * IAM's list actions page as IAM does (MaxItems, IsTruncated, Marker) and honour PathPrefix, over
 * real HTTP with the IAM SDK and the AWS CLI: every page joined is the whole list, a page never
 * holds more than MaxItems, and a bad Marker or MaxItems is refused. (Before, twelve list actions
 * answered everything in one page whatever MaxItems said.)
 */
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetGroupCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { adminCredentials, awsCliEnv } from '../e2e/helpers/ecr-client.js';
import { MANAGED } from '../e2e/helpers/iam-users.js';
import { allowing, named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const PULLS = allowing(['ecr:BatchGetImage']);
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});
const MANAGED_THREE = [`${MANAGED}ReadOnly`, `${MANAGED}PowerUser`, `${MANAGED}FullAccess`];

type Page = { IsTruncated?: boolean; Marker?: string };

describe('IAM list paging', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let teamPolicy = '';

  /**
   * Pages `list` two items at a time and checks each page against the whole answer: the pages
   * joined are the whole, every page but the last is truncated and carries a Marker.
   */
  async function pagesJoinTheWhole(list: (p: { MaxItems?: number; Marker?: string }) => Promise<Page>, key: string, expected: number): Promise<unknown[]> {
    const items = (p: Page) => (p as Record<string, unknown>)[key] as unknown[];
    const whole = await list({});
    assert.equal(whole.IsTruncated, false, key);
    assert.equal(items(whole).length, expected, key);
    const joined: unknown[] = [];
    let marker: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < expected, `${key}: more pages than items`);
      const page = await list({ MaxItems: 2, ...(marker && { Marker: marker }) });
      assert.ok(items(page).length <= 2, key);
      joined.push(...items(page));
      if (!page.IsTruncated) break;
      assert.equal(typeof page.Marker, 'string', key);
      marker = page.Marker;
    }
    assert.deepEqual(joined, items(whole), key);
    return items(whole);
  }

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    teamPolicy = (await iam.send(new CreatePolicyCommand({ PolicyName: 'pg-team', Path: '/team/', PolicyDocument: PULLS }))).Policy!.Arn!;
    for (const [name, path] of [
      ['pg-a', '/team/'],
      ['pg-b', '/team/'],
      ['pg-c', '/'],
      ['pg-d', '/other/'],
      ['pg-e', '/team/x/'],
    ]) {
      await iam.send(new CreateUserCommand({ UserName: name, Path: path }));
      await iam.send(new CreateRoleCommand({ RoleName: name, Path: path, AssumeRolePolicyDocument: TRUST }));
      await iam.send(new CreateGroupCommand({ GroupName: name, Path: path }));
      await iam.send(new AddUserToGroupCommand({ GroupName: name, UserName: 'pg-a' }));
      await iam.send(new AddUserToGroupCommand({ GroupName: 'pg-a', UserName: name }));
    }
    for (const n of ['p1', 'p2', 'p3']) {
      await iam.send(new PutUserPolicyCommand({ UserName: 'pg-a', PolicyName: n, PolicyDocument: PULLS }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'pg-a', PolicyName: n, PolicyDocument: PULLS }));
      await iam.send(new PutGroupPolicyCommand({ GroupName: 'pg-a', PolicyName: n, PolicyDocument: PULLS }));
    }
    for (const arn of [...MANAGED_THREE, teamPolicy]) {
      await iam.send(new AttachUserPolicyCommand({ UserName: 'pg-a', PolicyArn: arn }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: 'pg-a', PolicyArn: arn }));
      await iam.send(new AttachGroupPolicyCommand({ GroupName: 'pg-a', PolicyArn: arn }));
    }
    for (let i = 0; i < 2; i++) await iam.send(new CreatePolicyVersionCommand({ PolicyArn: teamPolicy, PolicyDocument: PULLS }));
    for (let i = 0; i < 2; i++) await iam.send(new CreateAccessKeyCommand({ UserName: 'pg-a' }));
  });
  after(async () => berth?.cleanup());

  it('users, roles and groups: the pages join to the whole, PathPrefix narrows', async () => {
    await pagesJoinTheWhole((p) => iam.send(new ListUsersCommand({ ...p, PathPrefix: '/' })), 'Users', 5);
    await pagesJoinTheWhole((p) => iam.send(new ListRolesCommand(p)), 'Roles', 5);
    await pagesJoinTheWhole((p) => iam.send(new ListGroupsCommand(p)), 'Groups', 5);
    await pagesJoinTheWhole((p) => iam.send(new GetGroupCommand({ ...p, GroupName: 'pg-a' })), 'Users', 5);
    await pagesJoinTheWhole((p) => iam.send(new ListGroupsForUserCommand({ ...p, UserName: 'pg-a' })), 'Groups', 5);
    const team = await pagesJoinTheWhole((p) => iam.send(new ListUsersCommand({ ...p, PathPrefix: '/team/' })), 'Users', 3);
    assert.deepEqual(
      team.map((u) => (u as { UserName: string }).UserName),
      ['pg-a', 'pg-b', 'pg-e'],
    );
    assert.deepEqual((await iam.send(new ListUsersCommand({ PathPrefix: '/nobody/' }))).Users, []);
  });

  it('inline and attached policies, access keys and policy versions page; attached policies by PathPrefix', async () => {
    await pagesJoinTheWhole((p) => iam.send(new ListUserPoliciesCommand({ ...p, UserName: 'pg-a' })), 'PolicyNames', 3);
    await pagesJoinTheWhole((p) => iam.send(new ListRolePoliciesCommand({ ...p, RoleName: 'pg-a' })), 'PolicyNames', 3);
    await pagesJoinTheWhole((p) => iam.send(new ListGroupPoliciesCommand({ ...p, GroupName: 'pg-a' })), 'PolicyNames', 3);
    await pagesJoinTheWhole((p) => iam.send(new ListAttachedUserPoliciesCommand({ ...p, UserName: 'pg-a' })), 'AttachedPolicies', 4);
    await pagesJoinTheWhole((p) => iam.send(new ListAttachedRolePoliciesCommand({ ...p, RoleName: 'pg-a' })), 'AttachedPolicies', 4);
    await pagesJoinTheWhole((p) => iam.send(new ListAttachedGroupPoliciesCommand({ ...p, GroupName: 'pg-a' })), 'AttachedPolicies', 4);
    await pagesJoinTheWhole((p) => iam.send(new ListAccessKeysCommand({ ...p, UserName: 'pg-a' })), 'AccessKeyMetadata', 2);
    const versions = await pagesJoinTheWhole((p) => iam.send(new ListPolicyVersionsCommand({ ...p, PolicyArn: teamPolicy })), 'Versions', 3);
    assert.deepEqual(
      versions.map((v) => (v as { VersionId: string }).VersionId),
      ['v3', 'v2', 'v1'],
      'newest first',
    );

    const teamOnly = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'pg-a', PathPrefix: '/team/' }));
    assert.deepEqual(teamOnly.AttachedPolicies, [{ PolicyName: 'pg-team', PolicyArn: teamPolicy }]);
    const roleTeamOnly = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'pg-a', PathPrefix: '/team/' }));
    assert.deepEqual(roleTeamOnly.AttachedPolicies, [{ PolicyName: 'pg-team', PolicyArn: teamPolicy }]);
  });

  it('a Marker that was never given and a MaxItems out of range are refused', async () => {
    await assert.rejects(iam.send(new ListUsersCommand({ Marker: 'not-a-marker' })), named('InvalidInputException'));
    await assert.rejects(iam.send(new ListRolesCommand({ MaxItems: 0 })), named('ValidationError'));
    await assert.rejects(iam.send(new ListGroupsCommand({ MaxItems: 1001 })), named('ValidationError'));
  });

  it("the CLI's own paging reads every page (--page-size), and --no-paginate answers one", async () => {
    const env = awsCliEnv(berth);
    const aws = async (args: string[]) => JSON.parse((await run('aws', ['iam', ...args, '--output', 'json'], { env })).stdout);
    const all = await aws(['list-users', '--page-size', '1']);
    assert.deepEqual(
      all.Users.map((u: { UserName: string }) => u.UserName),
      ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e'],
    );
    const one = await aws(['list-roles', '--no-paginate', '--max-items', '1']);
    assert.deepEqual([one.Roles.length, one.IsTruncated, typeof one.Marker], [1, true, 'string']);
  });
});
