/**
 * IAM customer managed policies over real HTTP (the IAM SDK and the AWS CLI), each decision
 * checked through both front doors (the ECR JSON API and /v2 with a login token): a policy
 * attached to a user grants what its default version allows, a new default version holds from
 * the next request, a policy as a permissions boundary caps an `ecr:*` inline policy, and IAM's
 * refusals (DeleteConflict, LimitExceeded, MalformedPolicyDocument, AccessDenied, another
 * account's policy) change nothing. Sources: notes/2026-12-07-s30-policies.md.
 */
import { DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  DeleteUserPermissionsBoundaryCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListPoliciesCommand,
  ListPolicyTagsCommand,
  ListPolicyVersionsCommand,
  PutUserPermissionsBoundaryCommand,
  SetDefaultPolicyVersionCommand,
  TagPolicyCommand,
  UntagPolicyCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { adminCredentials, awsCliEnv, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { access, allowing, imageRepository, LOGIN_ONLY, named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const OTHER = '111111111111';
const PULLS = ['ecr:GetAuthorizationToken', 'ecr:DescribeRepositories', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const PULL_ONLY = allowing(PULLS);
const DESCRIBE_ONLY = allowing(['ecr:GetAuthorizationToken', 'ecr:DescribeRepositories']);

describe('IAM customer managed policies', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;

  const repository = (name: string) => imageRepository(berth.url, admin, name, Buffer.from('{"cp":1}'));
  const aws = async (args: string[]) => JSON.parse((await run('aws', ['iam', ...args, '--output', 'json'], { env: awsCliEnv(berth) })).stdout || '{}');
  const create = async (name: string, document: string, path?: string) =>
    (await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: document, ...(path && { Path: path }) }))).Policy!.Arn!;

  before(async () => {
    // On disk: `berth admin` makes the other account.
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it('creates a policy with the AWS CLI; attached to a user it allows pulls and refuses pushes, through both doors', async () => {
    await repository('cp/attach');
    const created = await aws([
      'create-policy',
      '--policy-name',
      'pull-only',
      '--path',
      '/team/',
      '--description',
      'pulls and describes',
      '--policy-document',
      PULL_ONLY,
      '--tags',
      'Key=team,Value=a',
    ]);
    const arn = `arn:aws:iam::${ACCOUNT}:policy/team/pull-only`;
    assert.equal(created.Policy.Arn, arn);
    assert.match(created.Policy.PolicyId, /^ANPA[0-9A-Z]{17}$/);
    assert.equal(created.Policy.DefaultVersionId, 'v1');
    const u = await createUser(berth, iam, 'cp-user', [], LOGIN_ONLY);
    assert.deepEqual(await access(u, 'cp/attach'), { pull: false, v2pull: 403, push: false, v2push: 403 }, 'nothing before the attachment');
    await iam.send(new AttachUserPolicyCommand({ UserName: 'cp-user', PolicyArn: arn }));
    assert.deepEqual(await access(u, 'cp/attach'), { pull: true, v2pull: 200, push: false, v2push: 403 });
    assert.equal((await u.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['cp/attach'] }))).repositories?.length, 1);

    const got = (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!;
    assert.deepEqual(
      { ...got, CreateDate: undefined, UpdateDate: undefined },
      {
        PolicyName: 'pull-only',
        PolicyId: created.Policy.PolicyId,
        Arn: arn,
        Path: '/team/',
        DefaultVersionId: 'v1',
        AttachmentCount: 1,
        PermissionsBoundaryUsageCount: 0,
        IsAttachable: true,
        Description: 'pulls and describes',
        CreateDate: undefined,
        UpdateDate: undefined,
        Tags: [{ Key: 'team', Value: 'a' }],
      },
    );
    const attached = (await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'cp-user' }))).AttachedPolicies;
    assert.deepEqual(attached, [{ PolicyName: 'pull-only', PolicyArn: arn }]);
    const users = (await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn }))).PolicyUsers!.map((x) => x.UserName);
    assert.deepEqual(users, ['cp-user']);
    const local = (await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies!.map((p) => p.Arn);
    assert.ok(local.includes(arn));
    assert.ok((await iam.send(new ListPoliciesCommand({ Scope: 'AWS' }))).Policies!.every((p) => p.Arn!.startsWith('arn:aws:iam::aws:')));
    const team = (await iam.send(new ListPoliciesCommand({ Scope: 'Local', PathPrefix: '/team/', OnlyAttached: true }))).Policies!;
    assert.deepEqual(
      team.map((p) => [p.PolicyName, p.AttachmentCount]),
      [['pull-only', 1]],
    );

    await iam.send(new DetachUserPolicyCommand({ UserName: 'cp-user', PolicyArn: arn }));
    assert.deepEqual(await access(u, 'cp/attach'), { pull: false, v2pull: 403, push: false, v2push: 403 }, 'detached: nothing again');
  });

  it('a new default version takes effect on the next request; SetDefaultPolicyVersion brings the old one back', async () => {
    await repository('cp/versions');
    const arn = await create('versioned', PULL_ONLY);
    const u = await createUser(berth, iam, 'cp-versions', [], LOGIN_ONLY);
    await iam.send(new AttachUserPolicyCommand({ UserName: 'cp-versions', PolicyArn: arn }));
    assert.deepEqual(await access(u, 'cp/versions'), { pull: true, v2pull: 200, push: false, v2push: 403 });

    const v2 = (await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY, SetAsDefault: true }))).PolicyVersion!;
    assert.deepEqual([v2.VersionId, v2.IsDefaultVersion], ['v2', true]);
    assert.deepEqual(await access(u, 'cp/versions'), { pull: false, v2pull: 403, push: false, v2push: 403 }, 'the pull is gone at once');
    assert.equal((await u.ecr.send(new DescribeRepositoriesCommand({}))).repositories!.length > 0, true, 'describe still allowed');

    const got = (await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }))).PolicyVersion!;
    assert.deepEqual(JSON.parse(decodeURIComponent(got.Document!)), JSON.parse(DESCRIBE_ONLY));
    const versions = (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!;
    assert.deepEqual(
      versions.map((v) => [v.VersionId, v.IsDefaultVersion]),
      [
        ['v2', true],
        ['v1', false],
      ],
    );
    await assert.rejects(iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' })), named('DeleteConflictException'));
    await assert.rejects(iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v9' })), named('NoSuchEntityException'));

    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    assert.deepEqual(await access(u, 'cp/versions'), { pull: true, v2pull: 200, push: false, v2push: 403 }, 'v1 again');
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.DefaultVersionId, 'v1');
    // A version made without SetAsDefault changes nothing that is allowed.
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY }));
    assert.deepEqual(await access(u, 'cp/versions'), { pull: true, v2pull: 200, push: false, v2push: 403 });
  });

  it('a customer policy as a permissions boundary caps an ecr:* inline policy, for a user created with it and one given it later', async () => {
    await repository('cp/boundary');
    const arn = await create('boundary-pull', PULL_ONLY);
    const all = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] }];
    await iam.send(new CreateUserCommand({ UserName: 'cp-bounded', PermissionsBoundary: arn }));
    const later = await createUser(berth, iam, 'cp-later', [], all);
    assert.equal((await access(later, 'cp/boundary')).v2push, 202, 'no boundary yet');
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'cp-later', PermissionsBoundary: arn }));
    assert.deepEqual(await access(later, 'cp/boundary'), { pull: true, v2pull: 200, push: false, v2push: 403 });
    const used = (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!;
    assert.deepEqual([used.AttachmentCount, used.PermissionsBoundaryUsageCount], [0, 2]);
    const boundaries = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn, PolicyUsageFilter: 'PermissionsBoundary' }));
    assert.deepEqual(boundaries.PolicyUsers!.map((x) => x.UserName).sort(), ['cp-bounded', 'cp-later']);
    // A boundary's new default version caps at once too.
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY, SetAsDefault: true }));
    assert.deepEqual(await access(later, 'cp/boundary'), { pull: false, v2pull: 403, push: false, v2push: 403 });
    await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: 'cp-later' }));
    assert.equal((await access(later, 'cp/boundary')).v2push, 202, 'the cap is lifted');
  });

  it('DeletePolicy is refused while the policy is attached, a boundary, or has other versions, and then deletes it', async () => {
    const arn = await create('in-use', PULL_ONLY);
    await createUser(berth, iam, 'cp-holder', []);
    await iam.send(new CreateRoleCommand({ RoleName: 'cp-role', AssumeRolePolicyDocument: trust() }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'cp-holder', PolicyArn: arn }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'cp-role', PolicyArn: arn }));
    assert.deepEqual((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'cp-role' }))).AttachedPolicies, [
      { PolicyName: 'in-use', PolicyArn: arn },
    ]);
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.AttachmentCount, 2);
    const refused = async (why: string) => {
      await assert.rejects(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), named('DeleteConflictException'), why);
      assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.Arn, arn, `${why}: still there`);
    };
    await refused('attached to a user and a role');
    await iam.send(new DetachUserPolicyCommand({ UserName: 'cp-holder', PolicyArn: arn }));
    await refused('attached to a role');
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'cp-role', PolicyArn: arn }));
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'cp-holder', PermissionsBoundary: arn }));
    await refused('a boundary');
    await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: 'cp-holder' }));
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY }));
    await refused('a second version');
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    await assert.rejects(iam.send(new GetPolicyCommand({ PolicyArn: arn })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new AttachUserPolicyCommand({ UserName: 'cp-holder', PolicyArn: arn })), named('NoSuchEntityException'));
  });

  it('refuses a sixth version (LimitExceeded) and a duplicate name, and stores nothing', async () => {
    const arn = await create('five', PULL_ONLY);
    for (let i = 2; i <= 5; i++) await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY }));
    await assert.rejects(iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY, SetAsDefault: true })), (e: Error) => {
      assert.equal(e.name, 'LimitExceededException');
      assert.match(e.message, /up to 5 versions/);
      return true;
    });
    const versions = (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!;
    assert.deepEqual(
      versions.map((v) => v.VersionId),
      ['v5', 'v4', 'v3', 'v2', 'v1'],
    );
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.DefaultVersionId, 'v1');
    // A deleted version's id is not used again.
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v3' }));
    assert.equal((await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: DESCRIBE_ONLY }))).PolicyVersion!.VersionId, 'v6');
    await assert.rejects(create('five', DESCRIBE_ONLY), named('EntityAlreadyExistsException'));
    assert.equal((await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }))).PolicyVersion!.Document, encodeURIComponent(PULL_ONLY));
  });

  it('refuses malformed documents (MalformedPolicyDocument) and stores nothing', async () => {
    const bad = [
      '{',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'ecr:*', Resource: '*' }] }),
      allowing(['ecr:' + 'x'.repeat(6200)]),
    ];
    for (const [i, document] of bad.entries()) {
      await assert.rejects(create(`bad-${i}`, document), named('MalformedPolicyDocumentException'), `document ${i}`);
    }
    const names = (await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies!.map((p) => p.PolicyName);
    assert.ok(!names.some((n) => n!.startsWith('bad-')), names.join());
    const arn = await create('good', PULL_ONLY);
    await assert.rejects(
      iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: bad[1]!, SetAsDefault: true })),
      named('MalformedPolicyDocumentException'),
    );
    const versions = (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!;
    assert.deepEqual(
      versions.map((v) => v.VersionId),
      ['v1'],
    );
  });

  it('authorizes each action as iam:<Action> on the policy ARN: no iam:CreatePolicy, no policy; one path, only there', async () => {
    const policyAdmin = [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['iam:CreatePolicy', 'iam:GetPolicy'], Resource: `arn:aws:iam::${ACCOUNT}:policy/delegated/*` }],
      },
    ];
    const nobody = await createUser(berth, iam, 'cp-nobody', []);
    const delegated = await createUser(berth, iam, 'cp-delegated', [], policyAdmin);
    const as = (u: TestIdentity) => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: u.keys, maxAttempts: 1 });
    const attempt = (u: TestIdentity, path: string) => as(u).send(new CreatePolicyCommand({ PolicyName: 'mine', Path: path, PolicyDocument: PULL_ONLY }));
    await assert.rejects(attempt(nobody, '/delegated/'), named('AccessDenied'));
    await assert.rejects(attempt(delegated, '/'), named('AccessDenied'));
    const local = async () => (await iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies!.map((p) => p.Arn);
    assert.ok(!(await local()).some((a) => a!.endsWith('/mine')), 'the refusals created nothing');
    const made = (await attempt(delegated, '/delegated/')).Policy!.Arn!;
    assert.equal(made, `arn:aws:iam::${ACCOUNT}:policy/delegated/mine`);
    assert.equal((await as(delegated).send(new GetPolicyCommand({ PolicyArn: made }))).Policy!.PolicyName, 'mine');
    await assert.rejects(as(delegated).send(new DeletePolicyCommand({ PolicyArn: made })), named('AccessDenied'));
  });

  it("another account's policy ARN is not attachable, not a boundary and not readable (NoSuchEntity)", async () => {
    await createAccount(berth, OTHER);
    const root = await otherAccountIdentity(berth, OTHER);
    const theirs = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: root.keys, maxAttempts: 1 });
    const arn = (await theirs.send(new CreatePolicyCommand({ PolicyName: 'theirs', PolicyDocument: PULL_ONLY }))).Policy!.Arn!;
    assert.equal(arn, `arn:aws:iam::${OTHER}:policy/theirs`);
    await createUser(berth, iam, 'cp-cross', []);
    await assert.rejects(iam.send(new AttachUserPolicyCommand({ UserName: 'cp-cross', PolicyArn: arn })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'cp-cross', PermissionsBoundary: arn })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new GetPolicyCommand({ PolicyArn: arn })), named('NoSuchEntityException'));
    await assert.rejects(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), named('NoSuchEntityException'));
    assert.deepEqual((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'cp-cross' }))).AttachedPolicies, []);
    assert.equal((await theirs.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.AttachmentCount, 0);
  });

  it('tags a policy: TagPolicy adds and replaces, UntagPolicy removes, ListPolicyTags lists', async () => {
    const arn = await create('tagged', PULL_ONLY);
    await iam.send(
      new TagPolicyCommand({
        PolicyArn: arn,
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
      }),
    );
    await iam.send(new TagPolicyCommand({ PolicyArn: arn, Tags: [{ Key: 'a', Value: '3' }] }));
    await iam.send(new UntagPolicyCommand({ PolicyArn: arn, TagKeys: ['b'] }));
    assert.deepEqual((await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn }))).Tags, [{ Key: 'a', Value: '3' }]);
    const tooMany = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await assert.rejects(iam.send(new TagPolicyCommand({ PolicyArn: arn, Tags: tooMany })));
    assert.deepEqual((await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn }))).Tags, [{ Key: 'a', Value: '3' }]);
  });

  it('ListPolicyTags pages with MaxItems and Marker, as ListUserTags and ListRoleTags do (SDK and CLI)', async () => {
    const arn = await create('paged-tags', PULL_ONLY);
    const tags = ['a', 'b', 'c'].map((k) => ({ Key: k, Value: k.toUpperCase() }));
    await iam.send(new TagPolicyCommand({ PolicyArn: arn, Tags: tags }));
    const first = await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn, MaxItems: 2 }));
    assert.deepEqual([first.Tags, first.IsTruncated], [tags.slice(0, 2), true]);
    const rest = await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn, MaxItems: 2, Marker: first.Marker! }));
    assert.deepEqual([rest.Tags, rest.IsTruncated, rest.Marker], [tags.slice(2), false, undefined]);
    const whole = await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn }));
    assert.deepEqual([whole.Tags, whole.IsTruncated], [tags, false]);
    await assert.rejects(iam.send(new ListPolicyTagsCommand({ PolicyArn: arn, Marker: 'not-a-marker' })), named('InvalidInputException'));
    await assert.rejects(iam.send(new ListPolicyTagsCommand({ PolicyArn: arn, MaxItems: 0 })), named('ValidationError'));

    // The CLI: one page as IAM answers it (--no-paginate sends MaxItems), then the CLI's own paging.
    const page = await aws(['list-policy-tags', '--policy-arn', arn, '--no-paginate', '--max-items', '1']);
    assert.deepEqual([page.Tags, page.IsTruncated, typeof page.Marker], [tags.slice(0, 1), true, 'string']);
    const next = await aws(['list-policy-tags', '--policy-arn', arn, '--no-paginate', '--max-items', '5', '--marker', page.Marker]);
    assert.deepEqual([next.Tags, next.IsTruncated], [tags.slice(1), false]);
    assert.deepEqual((await aws(['list-policy-tags', '--policy-arn', arn, '--page-size', '1'])).Tags, tags);
  });
});

function trust(): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
  });
}
