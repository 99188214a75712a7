/**
 * IAM groups over real HTTP (the IAM SDK and the AWS CLI): a user's identity policies include its
 * groups' inline and attached ones, checked through both front doors (the ECR JSON API and /v2
 * with a login token), from the next request after a change of members or policies; and IAM's
 * refusals (DeleteConflict for a group with members or policies and for a user in a group,
 * MalformedPolicyDocument, AccessDenied, NoSuchEntity) change nothing.
 */
import type { ECRClient } from '@aws-sdk/client-ecr';
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeletePolicyCommand,
  DeleteUserCommand,
  DetachGroupPolicyCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  PutGroupPolicyCommand,
  RemoveUserFromGroupCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { adminCredentials, awsCliEnv, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED } from '../e2e/helpers/iam-users.js';
import { access, allowing, imageRepository, LOGIN_ONLY, named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const PULLS = allowing(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability']);
const PUSHES = allowing(['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', 'ecr:BatchCheckLayerAvailability']);

describe('IAM groups', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;

  const repository = (name: string) => imageRepository(berth.url, admin, name, Buffer.from('{"gr":1}'));
  const aws = async (args: string[]) => JSON.parse((await run('aws', ['iam', ...args, '--output', 'json'], { env: awsCliEnv(berth) })).stdout || '{}');

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it("a member's identity policies include its groups' inline and attached policies, from the next request", async () => {
    await repository('gr/members');
    const created = await aws(['create-group', '--group-name', 'devs', '--path', '/eng/']);
    assert.equal(created.Group.Arn, `arn:aws:iam::${ACCOUNT}:group/eng/devs`);
    assert.match(created.Group.GroupId, /^AGPA[0-9A-Z]{17}$/);
    const u = await createUser(berth, iam, 'gr-carol', [], LOGIN_ONLY);
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'devs', PolicyName: 'pulls', PolicyDocument: PULLS }));
    assert.deepEqual(await access(u, 'gr/members'), { pull: false, v2pull: 403, push: false, v2push: 403 }, 'not a member yet');
    await iam.send(new AddUserToGroupCommand({ GroupName: 'devs', UserName: 'gr-carol' }));
    assert.deepEqual(await access(u, 'gr/members'), { pull: true, v2pull: 200, push: false, v2push: 403 }, "the group's inline policy");
    const pushes = (await iam.send(new CreatePolicyCommand({ PolicyName: 'gr-pushes', PolicyDocument: PUSHES }))).Policy!.Arn!;
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'devs', PolicyArn: pushes }));
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'devs', PolicyArn: `${MANAGED}ReadOnly` }));
    assert.deepEqual(await access(u, 'gr/members'), { pull: true, v2pull: 200, push: true, v2push: 202 }, "the group's attached policy");

    const got = await iam.send(new GetGroupCommand({ GroupName: 'devs' }));
    assert.deepEqual(
      got.Users!.map((x) => x.UserName),
      ['gr-carol'],
    );
    assert.equal(got.Group!.Path, '/eng/');
    assert.deepEqual(
      (await iam.send(new ListGroupsForUserCommand({ UserName: 'gr-carol' }))).Groups!.map((g) => g.GroupName),
      ['devs'],
    );
    assert.deepEqual(
      (await iam.send(new ListGroupsCommand({ PathPrefix: '/eng/' }))).Groups!.map((g) => g.GroupName),
      ['devs'],
    );
    assert.deepEqual((await iam.send(new ListGroupPoliciesCommand({ GroupName: 'devs' }))).PolicyNames, ['pulls']);
    const inline = (await iam.send(new GetGroupPolicyCommand({ GroupName: 'devs', PolicyName: 'pulls' }))).PolicyDocument!;
    assert.deepEqual(JSON.parse(decodeURIComponent(inline)), JSON.parse(PULLS));
    assert.deepEqual(
      (await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'devs' }))).AttachedPolicies!.map((p) => p.PolicyArn),
      [`${MANAGED}ReadOnly`, pushes].sort(),
    );
    const entities = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: pushes }));
    assert.deepEqual(
      entities.PolicyGroups!.map((g) => g.GroupName),
      ['devs'],
    );
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: pushes }))).Policy!.AttachmentCount, 1);
    await assert.rejects(iam.send(new DeletePolicyCommand({ PolicyArn: pushes })), named('DeleteConflictException'), 'attached to a group');

    await iam.send(new DetachGroupPolicyCommand({ GroupName: 'devs', PolicyArn: pushes }));
    assert.deepEqual(await access(u, 'gr/members'), { pull: true, v2pull: 200, push: false, v2push: 403 }, 'detached: no pushes');
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'devs', UserName: 'gr-carol' }));
    assert.deepEqual(await access(u, 'gr/members'), { pull: false, v2pull: 403, push: false, v2push: 403 }, 'removed: nothing');
  });

  it('DeleteGroup is refused while it has members or policies, DeleteUser while the user is in a group', async () => {
    await iam.send(new CreateGroupCommand({ GroupName: 'busy' }));
    await createUser(berth, iam, 'gr-member', []);
    await iam.send(new AddUserToGroupCommand({ GroupName: 'busy', UserName: 'gr-member' }));
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'busy', PolicyName: 'p', PolicyDocument: PULLS }));
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'busy', PolicyArn: `${MANAGED}ReadOnly` }));
    const refused = async (why: string) => {
      await assert.rejects(iam.send(new DeleteGroupCommand({ GroupName: 'busy' })), named('DeleteConflictException'), why);
      assert.equal((await iam.send(new GetGroupCommand({ GroupName: 'busy' }))).Group!.GroupName, 'busy', `${why}: still there`);
    };
    await refused('members and policies');
    await assert.rejects(iam.send(new DeleteUserCommand({ UserName: 'gr-member' })), (e: Error) => {
      assert.equal(e.name, 'DeleteConflictException');
      assert.match(e.message, /must remove users from group first/);
      return true;
    });
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'busy', UserName: 'gr-member' }));
    await refused('policies');
    await iam.send(new DetachGroupPolicyCommand({ GroupName: 'busy', PolicyArn: `${MANAGED}ReadOnly` }));
    await refused('an inline policy');
    await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'busy', PolicyName: 'p' }));
    await iam.send(new DeleteGroupCommand({ GroupName: 'busy' }));
    await assert.rejects(iam.send(new GetGroupCommand({ GroupName: 'busy' })), named('NoSuchEntityException'));
    assert.deepEqual((await iam.send(new ListGroupsForUserCommand({ UserName: 'gr-member' }))).Groups, []);
  });

  it('refuses what does not exist or is malformed, and changes nothing', async () => {
    await iam.send(new CreateGroupCommand({ GroupName: 'strict' }));
    await assert.rejects(iam.send(new CreateGroupCommand({ GroupName: 'strict' })), named('EntityAlreadyExistsException'));
    await assert.rejects(iam.send(new AddUserToGroupCommand({ GroupName: 'strict', UserName: 'nobody' })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new AddUserToGroupCommand({ GroupName: 'ghost', UserName: 'gr-carol' })), named('NoSuchEntityException'));
    const foreign = 'arn:aws:iam::111111111111:policy/theirs';
    await assert.rejects(iam.send(new AttachGroupPolicyCommand({ GroupName: 'strict', PolicyArn: foreign })), named('NoSuchEntityException'));
    await assert.rejects(
      iam.send(new PutGroupPolicyCommand({ GroupName: 'strict', PolicyName: 'bad', PolicyDocument: '{"Statement":[{"Effect":"Maybe"}]}' })),
      named('MalformedPolicyDocumentException'),
    );
    assert.deepEqual((await iam.send(new ListGroupPoliciesCommand({ GroupName: 'strict' }))).PolicyNames, []);
    assert.deepEqual((await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'strict' }))).AttachedPolicies, []);
    assert.deepEqual((await iam.send(new GetGroupCommand({ GroupName: 'strict' }))).Users, []);
  });

  it('authorizes each action as iam:<Action> on the group: no iam:CreateGroup, no group; members only of the group allowed', async () => {
    await iam.send(new CreateGroupCommand({ GroupName: 'team' }));
    await iam.send(new CreateGroupCommand({ GroupName: 'admins' }));
    const delegate = [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iam:AddUserToGroup', Resource: `arn:aws:iam::${ACCOUNT}:group/team` }],
      },
    ];
    const lead = await createUser(berth, iam, 'gr-lead', [], delegate);
    await createUser(berth, iam, 'gr-new', []);
    const as = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: lead.keys, maxAttempts: 1 });
    await assert.rejects(as.send(new CreateGroupCommand({ GroupName: 'mine' })), named('AccessDenied'));
    await assert.rejects(iam.send(new GetGroupCommand({ GroupName: 'mine' })), named('NoSuchEntityException'), 'the refusal created nothing');
    await assert.rejects(as.send(new AddUserToGroupCommand({ GroupName: 'admins', UserName: 'gr-new' })), named('AccessDenied'));
    await as.send(new AddUserToGroupCommand({ GroupName: 'team', UserName: 'gr-new' }));
    assert.deepEqual(
      (await iam.send(new ListGroupsForUserCommand({ UserName: 'gr-new' }))).Groups!.map((g) => g.GroupName),
      ['team'],
    );
  });
});
