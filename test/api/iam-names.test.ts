/**
 * IAM names without regard to case, over real HTTP (the IAM and STS SDKs): a user, role, group or
 * customer policy cannot be made beside one whose name differs only in case (EntityAlreadyExists,
 * nothing made); a name in another case finds the entity, which keeps the case it was made in
 * (its ARN too); and another case is no way around a policy naming the entity's ARN, nor into
 * another principal's rows.
 */
import {
  AddUserToGroupCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetGroupCommand,
  GetRoleCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListGroupsForUserCommand,
  ListGroupsCommand,
  ListPoliciesCommand,
  ListRolesCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});
const DOC = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] });
const exists = named('EntityAlreadyExistsException');
const iamDenied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';

describe('IAM names without regard to case', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  /** An IAM client and an STS client for a new user of the account with `policy` inline. */
  async function userWith(name: string, policy: object) {
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: JSON.stringify(policy) }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    const credentials = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
    return {
      iam: new IAMClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 }),
      sts: new STSClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 }),
    };
  }

  it('refuses a user, role, group or policy beside one whose name differs only in case, and makes nothing', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'Case-Bob' }));
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'case-bob' })), exists);
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'CASE-BOB' })), exists);
    await iam.send(new CreateRoleCommand({ RoleName: 'Case-Deploy', AssumeRolePolicyDocument: TRUST }));
    await assert.rejects(iam.send(new CreateRoleCommand({ RoleName: 'case-deploy', AssumeRolePolicyDocument: TRUST })), exists);
    await iam.send(new CreateGroupCommand({ GroupName: 'Case-Admins' }));
    await assert.rejects(iam.send(new CreateGroupCommand({ GroupName: 'CASE-ADMINS' })), exists);
    await iam.send(new CreatePolicyCommand({ PolicyName: 'Case-Pull', PolicyDocument: DOC }));
    // Another path is no other name: policy names are unique in the account.
    await assert.rejects(iam.send(new CreatePolicyCommand({ PolicyName: 'case-pull', Path: '/other/', PolicyDocument: DOC })), exists);

    const users = (await iam.send(new ListUsersCommand({}))).Users!.map((u) => u.UserName!).filter((n) => /^case-/i.test(n));
    const roles = (await iam.send(new ListRolesCommand({}))).Roles!.map((r) => r.RoleName!).filter((n) => /^case-/i.test(n));
    const groups = (await iam.send(new ListGroupsCommand({}))).Groups!.map((g) => g.GroupName!).filter((n) => /^case-/i.test(n));
    const policies = (await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies!.map((p) => p.PolicyName!).filter((n) => /^case-/i.test(n));
    assert.deepEqual({ users, roles, groups, policies }, { users: ['Case-Bob'], roles: ['Case-Deploy'], groups: ['Case-Admins'], policies: ['Case-Pull'] });
  });

  it('finds a user, role or group by its name in any case, with the name and ARN it was made with', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'Find-Carol', Path: '/eng/' }));
    const got = (await iam.send(new GetUserCommand({ UserName: 'find-CAROL' }))).User!;
    assert.deepEqual([got.UserName, got.Arn], ['Find-Carol', `arn:aws:iam::${ACCOUNT}:user/eng/Find-Carol`]);
    await iam.send(new CreateRoleCommand({ RoleName: 'Find-Ops', AssumeRolePolicyDocument: TRUST }));
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'FIND-OPS' }))).Role!;
    assert.deepEqual([role.RoleName, role.Arn], ['Find-Ops', `arn:aws:iam::${ACCOUNT}:role/Find-Ops`]);
    await iam.send(new CreateGroupCommand({ GroupName: 'Find-Devs' }));

    // Every action taking the name: what one case did, the others see.
    await iam.send(new PutUserPolicyCommand({ UserName: 'FIND-CAROL', PolicyName: 'p', PolicyDocument: DOC }));
    assert.equal((await iam.send(new GetUserPolicyCommand({ UserName: 'find-carol', PolicyName: 'p' }))).UserName, 'Find-Carol');
    await iam.send(new AddUserToGroupCommand({ GroupName: 'find-devs', UserName: 'find-carol' }));
    const group = await iam.send(new GetGroupCommand({ GroupName: 'FIND-DEVS' }));
    assert.deepEqual([group.Group!.GroupName, group.Users!.map((u) => u.UserName)], ['Find-Devs', ['Find-Carol']]);
    assert.deepEqual(
      (await iam.send(new ListGroupsForUserCommand({ UserName: 'FIND-carol' }))).Groups!.map((g) => g.GroupName),
      ['Find-Devs'],
    );
    // A key made for the user under another case is the user's: its caller identity is the user's ARN.
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'find-carol' }))).AccessKey!;
    assert.equal(k.UserName, 'Find-Carol');
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! } });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:user/eng/Find-Carol`);
    // STS answers a user's own unique id, not the account's.
    assert.equal(me.UserId, (await iam.send(new GetUserCommand({ UserName: 'Find-Carol' }))).User!.UserId);
    assert.match(me.UserId!, /^AIDA/);

    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'FIND-devs', UserName: 'Find-CAROL' }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'FIND-CAROL', AccessKeyId: k.AccessKeyId! }));
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'find-carol', PolicyName: 'p' }));
    await iam.send(new DeleteUserCommand({ UserName: 'FIND-CAROL' }));
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'Find-Carol' })), named('NoSuchEntityException'));
  });

  it("another case is no way around a Deny naming the entity's ARN", async () => {
    await iam.send(new CreateUserCommand({ UserName: 'Guarded' }));
    await iam.send(new CreateGroupCommand({ GroupName: 'Guarded-Admins' }));
    const manager = await userWith('deny-manager', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iam:*', Resource: '*' },
        {
          Effect: 'Deny',
          Action: ['iam:DeleteUser', 'iam:PutUserPolicy', 'iam:CreateAccessKey', 'iam:AddUserToGroup', 'iam:GetUser'],
          Resource: [`arn:aws:iam::${ACCOUNT}:user/Guarded`, `arn:aws:iam::${ACCOUNT}:group/Guarded-Admins`],
        },
      ],
    });
    for (const name of ['Guarded', 'guarded', 'GUARDED']) {
      await assert.rejects(manager.iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'grant', PolicyDocument: DOC })), iamDenied, name);
      await assert.rejects(manager.iam.send(new CreateAccessKeyCommand({ UserName: name })), iamDenied, name);
      await assert.rejects(manager.iam.send(new DeleteUserCommand({ UserName: name })), iamDenied, name);
      await assert.rejects(manager.iam.send(new GetUserCommand({ UserName: name })), iamDenied, name);
      await assert.rejects(
        manager.iam.send(new AddUserToGroupCommand({ GroupName: name === 'Guarded' ? 'Guarded-Admins' : 'guarded-ADMINS', UserName: 'deny-manager' })),
        iamDenied,
      );
    }
    assert.equal((await iam.send(new GetUserCommand({ UserName: 'Guarded' }))).User!.UserName, 'Guarded', 'still there');
    assert.deepEqual((await iam.send(new GetGroupCommand({ GroupName: 'Guarded-Admins' }))).Users, [], 'no member added');
    // What the Deny does not name is allowed in any case.
    await iam.send(new CreateUserCommand({ UserName: 'Free' }));
    await manager.iam.send(new DeleteUserCommand({ UserName: 'FREE' }));
  });

  it('an ARN names exactly: AssumeRole of role/ADMIN is not the role Admin (nor a way around a Deny of it)', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'Arn-Admin', AssumeRolePolicyDocument: TRUST }));
    const caller = await userWith('arn-caller', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' },
        { Effect: 'Deny', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${ACCOUNT}:role/Arn-Admin` },
      ],
    });
    for (const arn of [`arn:aws:iam::${ACCOUNT}:role/Arn-Admin`, `arn:aws:iam::${ACCOUNT}:role/ARN-ADMIN`, `arn:aws:iam::${ACCOUNT}:role/arn-admin`]) {
      await assert.rejects(caller.sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'ses' })), iamDenied, arn);
    }
    // Without a Deny, the ARN as made is the role; in another case it names none.
    const free = await userWith('arn-free', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] });
    const assumed = await free.sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/Arn-Admin`, RoleSessionName: 'ses' }));
    assert.equal(assumed.AssumedRoleUser!.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/Arn-Admin/ses`);
    await assert.rejects(free.sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ARN-ADMIN`, RoleSessionName: 'ses' })), iamDenied);
  });

  it('a session of a deleted user is not one of a new user whose name differs only in case', async () => {
    const old = await userWith('gone-dave', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] });
    const c = (await old.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    const session = new STSClient({
      endpoint: berth.url,
      region: berth.region,
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
      maxAttempts: 1,
    });
    assert.equal((await session.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${ACCOUNT}:user/gone-dave`);

    for (const k of (await iam.send(new ListAccessKeysCommand({ UserName: 'gone-dave' }))).AccessKeyMetadata!) {
      await iam.send(new DeleteAccessKeyCommand({ UserName: 'gone-dave', AccessKeyId: k.AccessKeyId! }));
    }
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'gone-dave', PolicyName: 'p' }));
    await iam.send(new DeleteUserCommand({ UserName: 'gone-dave' }));
    await iam.send(new CreateUserCommand({ UserName: 'Gone-Dave' }));
    await assert.rejects(session.send(new GetCallerIdentityCommand({})), (e: Error) => /InvalidClientTokenId|UnrecognizedClient/.test(e.name));
  });
});
