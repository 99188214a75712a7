/**
 * IAM actions are authorized on the ARN IAM builds for the user, role or group they act on, path
 * included (`user/admins/ops`), over real HTTP through the IAM SDK: a Deny on `user/admins/*`
 * refuses what it names, for entities that exist (their path as made) and for the ones a create
 * asks for (the request's Path), and leaves the others alone. Before, the resource left the path
 * out, so such a Deny never matched: a false allow.
 */
import {
  AttachRolePolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteGroupCommand,
  GetGroupCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});
const denied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';
const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';

describe('IAM actions on a path', () => {
  let berth: BerthInProcess;
  let admin: IAMClient;
  let helpdesk: IAMClient;

  before(async () => {
    berth = await startInProcess();
    admin = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    // Everything in IAM but the entities under /admins/.
    const guard = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iam:*', Resource: '*' },
        {
          Effect: 'Deny',
          Action: 'iam:*',
          Resource: [`arn:aws:iam::${ACCOUNT}:user/admins/*`, `arn:aws:iam::${ACCOUNT}:role/admins/*`, `arn:aws:iam::${ACCOUNT}:group/admins/*`],
        },
      ],
    };
    await admin.send(new CreateUserCommand({ UserName: 'helpdesk' }));
    await admin.send(new PutUserPolicyCommand({ UserName: 'helpdesk', PolicyName: 'guard', PolicyDocument: JSON.stringify(guard) }));
    const k = (await admin.send(new CreateAccessKeyCommand({ UserName: 'helpdesk' }))).AccessKey!;
    helpdesk = new IAMClient({
      endpoint: berth.url,
      region: berth.region,
      credentials: { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! },
      maxAttempts: 1,
    });
    await admin.send(new CreateUserCommand({ UserName: 'ops', Path: '/admins/' }));
    await admin.send(new CreateUserCommand({ UserName: 'dev', Path: '/staff/' }));
    await admin.send(new CreateRoleCommand({ RoleName: 'break-glass', Path: '/admins/', AssumeRolePolicyDocument: TRUST }));
    await admin.send(new CreateRoleCommand({ RoleName: 'ci', AssumeRolePolicyDocument: TRUST }));
    await admin.send(new CreateGroupCommand({ GroupName: 'root-ops', Path: '/admins/' }));
  });
  after(async () => berth?.cleanup());

  it('refuses what a Deny on the path names, for an existing user, role or group (also named in another case)', async () => {
    await assert.rejects(helpdesk.send(new CreateAccessKeyCommand({ UserName: 'ops' })), denied);
    await assert.rejects(helpdesk.send(new CreateAccessKeyCommand({ UserName: 'OPS' })), denied);
    await assert.rejects(helpdesk.send(new AttachRolePolicyCommand({ RoleName: 'break-glass', PolicyArn: READ_ONLY })), denied);
    await assert.rejects(helpdesk.send(new DeleteGroupCommand({ GroupName: 'root-ops' })), denied);
    // Nothing was done: ops has no key, break-glass no policy, root-ops is still there.
    assert.deepEqual((await admin.send(new ListAccessKeysCommand({ UserName: 'ops' }))).AccessKeyMetadata, []);
    assert.deepEqual((await admin.send(new ListAttachedRolePoliciesCommand({ RoleName: 'break-glass' }))).AttachedPolicies, []);
    assert.equal((await admin.send(new GetGroupCommand({ GroupName: 'root-ops' }))).Group?.Path, '/admins/');
  });

  it('refuses a create on the path, by the Path it asks for', async () => {
    await assert.rejects(helpdesk.send(new CreateUserCommand({ UserName: 'sneaky', Path: '/admins/' })), denied);
    await assert.rejects(helpdesk.send(new CreateRoleCommand({ RoleName: 'sneaky', Path: '/admins/', AssumeRolePolicyDocument: TRUST })), denied);
    await assert.rejects(helpdesk.send(new CreateGroupCommand({ GroupName: 'sneaky', Path: '/admins/' })), denied);
  });

  it('allows the same actions on entities elsewhere', async () => {
    assert.equal((await helpdesk.send(new CreateAccessKeyCommand({ UserName: 'dev' }))).AccessKey?.UserName, 'dev');
    await helpdesk.send(new AttachRolePolicyCommand({ RoleName: 'ci', PolicyArn: READ_ONLY }));
    const made = await helpdesk.send(new CreateUserCommand({ UserName: 'newcomer', Path: '/staff/' }));
    assert.equal(made.User?.Arn, `arn:aws:iam::${ACCOUNT}:user/staff/newcomer`);
  });
});
