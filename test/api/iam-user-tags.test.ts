/**
 * IAM users' tags through the real SDKs: kept by CreateUser and answered by GetUser, changed by
 * TagUser/UntagUser and listed (paged) by ListUserTags with IAM's limits and errors; and used, as
 * IAM uses them, as the user's aws:PrincipalTag/* on every request it makes — with its access key,
 * a GetSessionToken session, and a login token on /v2 — but not in a role session it assumes.
 * Each tagging action's denied request, and the tag condition keys of TagUser/UntagUser.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetUserCommand,
  IAMClient,
  ListUsersCommand,
  ListUserTagsCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UntagUserCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const named = (name: string) => (e: Error) => e.name === name;
const denied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';
const tags = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: `v${i}` }));
/** ECR's reads for a principal tagged team=web, and the login token they come with. */
const WEB_ONLY = doc(
  { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
  { Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'web' } } },
);

describe("IAM users' tags", () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  const clients = (credentials: Credentials & { sessionToken?: string }) => ({
    iam: new IAMClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 }),
    sts: new STSClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 }),
    ecr: ecrClient(berth, credentials) as ECRClient,
  });
  /** A user with `tags`, an inline policy and an access key. */
  const user = async (name: string, policy: string, userTags: Array<{ Key: string; Value: string }> = []) => {
    await iam.send(new CreateUserCommand({ UserName: name, ...(userTags.length > 0 && { Tags: userTags }) }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return clients({ accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! });
  };
  const tagsOf = async (name: string) => (await iam.send(new ListUserTagsCommand({ UserName: name }))).Tags;
  const describes = async (ecr: ECRClient) =>
    ecr.send(new DescribeRepositoriesCommand({})).then(
      () => true,
      (e: Error) => (denied(e) ? false : Promise.reject(e)),
    );

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'ut/app' }));
  });
  after(async () => berth?.cleanup());

  it('CreateUser keeps its tags: CreateUser and GetUser answer them, ListUsers does not, as IAM', async () => {
    const made = await iam.send(
      new CreateUserCommand({
        UserName: 'ut-made',
        Tags: [
          { Key: 'team', Value: 'web' },
          { Key: 'cost center', Value: '' },
        ],
      }),
    );
    assert.deepEqual(made.User!.Tags, [
      { Key: 'team', Value: 'web' },
      { Key: 'cost center', Value: '' },
    ]);
    const got = await iam.send(new GetUserCommand({ UserName: 'UT-MADE' }));
    assert.deepEqual(got.User!.Tags, [
      { Key: 'team', Value: 'web' },
      { Key: 'cost center', Value: '' },
    ]);
    const listed = (await iam.send(new ListUsersCommand({}))).Users!.find((u) => u.UserName === 'ut-made');
    assert.equal(listed!.Tags, undefined);
    assert.equal((await iam.send(new CreateUserCommand({ UserName: 'ut-bare' }))).User!.Tags, undefined, 'no tags, no Tags');
  });

  it('TagUser adds and overwrites, UntagUser removes, ListUserTags pages with Marker/MaxItems', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'ut-change', Tags: [{ Key: 'team', Value: 'web' }] }));
    await iam.send(new TagUserCommand({ UserName: 'ut-change', Tags: [{ Key: 'team', Value: 'db' }, ...tags(3)] }));
    assert.deepEqual(await tagsOf('ut-change'), [{ Key: 'team', Value: 'db' }, ...tags(3)]);
    // IAM's keys are one key in any case: Team replaces team rather than standing beside it.
    await iam.send(new TagUserCommand({ UserName: 'UT-CHANGE', Tags: [{ Key: 'Team', Value: 'ops' }] }));
    await iam.send(new UntagUserCommand({ UserName: 'ut-change', TagKeys: ['k1', 'not-there'] }));
    assert.deepEqual(await tagsOf('ut-change'), [
      { Key: 'k0', Value: 'v0' },
      { Key: 'k2', Value: 'v2' },
      { Key: 'Team', Value: 'ops' },
    ]);

    const first = await iam.send(new ListUserTagsCommand({ UserName: 'ut-change', MaxItems: 2 }));
    assert.equal(first.IsTruncated, true);
    assert.equal(first.Tags!.length, 2);
    const rest = await iam.send(new ListUserTagsCommand({ UserName: 'ut-change', MaxItems: 2, Marker: first.Marker! }));
    assert.equal(rest.IsTruncated, false);
    assert.deepEqual([...first.Tags!, ...rest.Tags!], await tagsOf('ut-change'));
  });

  it('refuses what IAM refuses, and changes nothing: 51 tags, tagging past 50, bad characters, a missing user', async () => {
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'ut-51', Tags: tags(51) })), named('ValidationError'));
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'ut-51' })), named('NoSuchEntityException'), 'no user was made');
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'ut-bad', Tags: [{ Key: 'team', Value: 'a;b' }] })), named('ValidationError'));
    await assert.rejects(
      iam.send(
        new CreateUserCommand({
          UserName: 'ut-dup',
          Tags: [
            { Key: 'a', Value: '1' },
            { Key: 'A', Value: '2' },
          ],
        }),
      ),
      named('InvalidInputException'),
    );
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'ut-dup' })), named('NoSuchEntityException'));

    await iam.send(new CreateUserCommand({ UserName: 'ut-full', Tags: tags(49) }));
    await assert.rejects(iam.send(new TagUserCommand({ UserName: 'ut-full', Tags: tags(2, 'x') })), named('LimitExceededException'));
    await assert.rejects(iam.send(new TagUserCommand({ UserName: 'ut-full', Tags: [{ Key: 'team', Value: '<web>' }] })), named('ValidationError'));
    assert.deepEqual(await tagsOf('ut-full'), tags(49), 'the refused tags changed nothing');
    await iam.send(
      new TagUserCommand({
        UserName: 'ut-full',
        Tags: [
          { Key: 'k0', Value: 'new' },
          { Key: 'x', Value: '50th' },
        ],
      }),
    );
    assert.equal((await tagsOf('ut-full'))!.length, 50, 'an overwrite is no new tag: 50 in all');

    for (const send of [
      () => iam.send(new TagUserCommand({ UserName: 'ut-nobody', Tags: [{ Key: 'a', Value: 'b' }] })),
      () => iam.send(new UntagUserCommand({ UserName: 'ut-nobody', TagKeys: ['a'] })),
      () => iam.send(new ListUserTagsCommand({ UserName: 'ut-nobody' })),
    ]) {
      await assert.rejects(send(), named('NoSuchEntityException'));
    }
  });

  it('aws:PrincipalTag: a policy on team=web allows the tagged user only, with its key, its session and its login token, and follows a tag change', async () => {
    const web = await user('ut-web', WEB_ONLY, [{ Key: 'team', Value: 'web' }]);
    const db = await user('ut-db', WEB_ONLY, [{ Key: 'team', Value: 'db' }]);
    const none = await user('ut-none', WEB_ONLY);
    assert.equal(await describes(web.ecr), true);
    assert.equal(await describes(db.ecr), false);
    assert.equal(await describes(none.ecr), false);

    // A GetSessionToken session acts with its user's tags.
    const session = async (c: typeof web) => {
      const t = (await c.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
      return clients({ accessKeyId: t.AccessKeyId!, secretAccessKey: t.SecretAccessKey!, sessionToken: t.SessionToken! });
    };
    const webSession = await session(web);
    assert.equal(await describes(webSession.ecr), true);
    assert.equal(await describes((await session(db)).ecr), false);

    // docker login's token on /v2: its user's tags hold there too.
    const v2 = async (c: typeof web) => {
      const { authorizationData } = await c.ecr.send(new GetAuthorizationTokenCommand({}));
      return (await request(`${berth.url}/v2/ut/app/tags/list`, { headers: { authorization: `Basic ${authorizationData![0]!.authorizationToken}` } })).status;
    };
    const webLogin = await v2(web);
    assert.equal(webLogin, 200);
    assert.equal(await v2(db), 403);

    // A change of tags holds from the next request (made through this node: no cache time to wait).
    await iam.send(new TagUserCommand({ UserName: 'ut-db', Tags: [{ Key: 'team', Value: 'web' }] }));
    assert.equal(await describes(db.ecr), true);
    await iam.send(new UntagUserCommand({ UserName: 'ut-web', TagKeys: ['team'] }));
    assert.equal(await describes(web.ecr), false);
    assert.equal(await describes(webSession.ecr), false, 'the session follows its user');
    assert.equal(await v2(web), 403, 'and so does the login token');
  });

  it('the negated guardrail: StringNotEquals aws:PrincipalTag/team refuses the user tagged with it', async () => {
    const guard = doc({
      Effect: 'Allow',
      Action: 'ecr:DescribeRepositories',
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:PrincipalTag/team': 'contractors' } },
    });
    const contractor = await user('ut-contractor', guard, [{ Key: 'team', Value: 'contractors' }]);
    const staff = await user('ut-staff', guard, [{ Key: 'team', Value: 'web' }]);
    assert.equal(await describes(contractor.ecr), false);
    assert.equal(await describes(staff.ecr), true);
  });

  it("a role session carries the role's and session tags, not the tags of the user that assumed it (as STS)", async () => {
    const trust = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['sts:AssumeRole', 'sts:TagSession'] });
    await iam.send(new CreateRoleCommand({ RoleName: 'ut-role', AssumeRolePolicyDocument: trust }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'ut-role', PolicyName: 'p', PolicyDocument: WEB_ONLY }));
    const web = await user('ut-assumer', doc({ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: '*' }), [
      { Key: 'team', Value: 'web' },
    ]);
    const assume = async (Tags?: Array<{ Key: string; Value: string }>) => {
      const c = (
        await web.sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ut-role`, RoleSessionName: 'ut-session', ...(Tags && { Tags }) }))
      ).Credentials!;
      return clients({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! }).ecr;
    };
    assert.equal(await describes(await assume()), false, "the user's team=web is not the session's");
    assert.equal(await describes(await assume([{ Key: 'team', Value: 'web' }])), true, 'a session tag is');
  });

  it('each tagging permission: the request without it is refused and changes nothing; aws:TagKeys and iam:ResourceTag narrow them', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'ut-target', Tags: [{ Key: 'team', Value: 'web' }] }));
    await iam.send(new CreateUserCommand({ UserName: 'ut-other', Tags: [{ Key: 'team', Value: 'db' }] }));
    const nobody = await user('ut-nobody-perms', doc({ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }));
    await assert.rejects(nobody.iam.send(new TagUserCommand({ UserName: 'ut-target', Tags: [{ Key: 'a', Value: 'b' }] })), denied);
    await assert.rejects(nobody.iam.send(new UntagUserCommand({ UserName: 'ut-target', TagKeys: ['team'] })), denied);
    await assert.rejects(nobody.iam.send(new ListUserTagsCommand({ UserName: 'ut-target' })), denied);
    assert.deepEqual(await tagsOf('ut-target'), [{ Key: 'team', Value: 'web' }], 'the refused calls changed nothing');

    // Each action on the user's ARN: allowed on one user, refused on another.
    const arn = `arn:aws:iam::${ACCOUNT}:user/ut-target`;
    const onOne = await user('ut-one', doc({ Effect: 'Allow', Action: ['iam:TagUser', 'iam:UntagUser', 'iam:ListUserTags'], Resource: arn }));
    await assert.rejects(onOne.iam.send(new TagUserCommand({ UserName: 'ut-other', Tags: [{ Key: 'a', Value: 'b' }] })), denied);
    await assert.rejects(onOne.iam.send(new UntagUserCommand({ UserName: 'ut-other', TagKeys: ['team'] })), denied);
    await assert.rejects(onOne.iam.send(new ListUserTagsCommand({ UserName: 'ut-other' })), denied);
    assert.deepEqual((await onOne.iam.send(new ListUserTagsCommand({ UserName: 'ut-target' }))).Tags, [{ Key: 'team', Value: 'web' }]);

    // ForAllValues on aws:TagKeys: only the keys it names may be set or removed.
    const keys = await user(
      'ut-keys',
      doc({
        Effect: 'Allow',
        Action: ['iam:TagUser', 'iam:UntagUser'],
        Resource: '*',
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['project'] } },
      }),
    );
    await assert.rejects(keys.iam.send(new TagUserCommand({ UserName: 'ut-target', Tags: [{ Key: 'team', Value: 'ops' }] })), denied);
    await assert.rejects(keys.iam.send(new UntagUserCommand({ UserName: 'ut-target', TagKeys: ['team'] })), denied);
    await keys.iam.send(new TagUserCommand({ UserName: 'ut-target', Tags: [{ Key: 'project', Value: 'x' }] }));
    assert.deepEqual(await tagsOf('ut-target'), [
      { Key: 'team', Value: 'web' },
      { Key: 'project', Value: 'x' },
    ]);

    // iam:ResourceTag (and aws:ResourceTag): the user's own tags, as the resource acted on.
    const webAdmin = await user(
      'ut-web-admin',
      doc({
        Effect: 'Allow',
        Action: 'iam:TagUser',
        Resource: '*',
        Condition: { StringEquals: { 'iam:ResourceTag/team': 'web', 'aws:ResourceTag/team': 'web' } },
      }),
    );
    await webAdmin.iam.send(new TagUserCommand({ UserName: 'ut-target', Tags: [{ Key: 'owner', Value: 'me' }] }));
    await assert.rejects(webAdmin.iam.send(new TagUserCommand({ UserName: 'ut-other', Tags: [{ Key: 'owner', Value: 'me' }] })), denied);
    assert.deepEqual(await tagsOf('ut-other'), [{ Key: 'team', Value: 'db' }]);
  });
});
