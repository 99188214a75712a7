// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside plain strings
/**
 * What a statement matches, as an outside checker sees it through the ECR, IAM and STS SDKs: a
 * principal with exactly the policy under test, and the requests IAM's documents say it may and
 * may not make. Resource and NotResource wildcards, NotAction, policy variables (one that cannot
 * be resolved, the `${*}` escapes, Version 2008-10-17 where they are text), tag keys that differ
 * only in case, and documents IAM refuses when they are put.
 * Sources: IAM's pages on the Resource element, policy variables, condition keys, and grammar.
 */
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  ListImagesCommand,
  ListTagsForResourceCommand,
  SetRepositoryPolicyCommand,
  TagResourceCommand,
} from '@aws-sdk/client-ecr';
import {
  CreatePolicyCommand,
  CreateRoleCommand,
  IAMClient,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { roleSession } from './helpers/iam-access.js';
import { sessionKeys } from './helpers/temporary-credentials.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const OTHER = '222222222222';
const repo = (name: string) => `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/${name}`;
const denied = (e: Error) => e.name === 'AccessDeniedException' || e.name === 'AccessDenied';
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const ALLOW_ECR = { Effect: 'Allow', Action: 'ecr:*', Resource: '*' };

describe('what a statement matches, from outside', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let n = 0;
  let assumer: TestIdentity;

  const user = (...statements: object[]) => createUser(berth, iam, `pe-${++n}`, [], [doc(...statements)]);
  /** Whether `u` may ListImages in each of `names`, as a map from name to yes/no. */
  const lists = async (u: { ecr: ECRClient }, names: string[]) => {
    const out: Record<string, boolean> = {};
    for (const name of names) {
      out[name] = await u.ecr.send(new ListImagesCommand({ repositoryName: name })).then(
        () => true,
        (e: Error) => (denied(e) ? false : Promise.reject(e)),
      );
    }
    return out;
  };
  /** A session of a new role whose only policy is `statements` (no aws:username: a role session has none). */
  const session = async (...statements: object[]): Promise<TestIdentity> => {
    const name = `pe-role-${++n}`;
    const trust = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' });
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'p', PolicyDocument: JSON.stringify(doc(...statements)) }));
    return roleSession(berth, assumer.keys, `arn:aws:iam::${ACCOUNT}:role/${name}`);
  };

  before(async () => {
    // SQLite in a file, so `berth admin` can make another account.
    berth = await startInProcess({ sqliteFile: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    assumer = await createUser(berth, iam, 'pe-assumer', [], [doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' })]);
    for (const name of ['ax', 'axb', 'ax/one', 'bx', 'secret', 'open', 'star']) await admin.send(new CreateRepositoryCommand({ repositoryName: name }));
  });
  after(async () => berth?.cleanup());

  it('a variable that cannot be resolved lifts no Deny, wherever it stands in the list, and voids an Allow', async () => {
    // A role session has no aws:username. Before, the Deny stopped applying when its
    // unresolvable entry came first, and an Allow's applied or not by the order of the list.
    const denyFirst = await session(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:*', Resource: [repo('${aws:username}/*'), repo('secret')] });
    const denyLast = await session(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:*', Resource: [repo('secret'), repo('${aws:username}/*')] });
    assert.deepEqual(await lists(denyFirst, ['secret', 'open']), { secret: false, open: true });
    assert.deepEqual(await lists(denyLast, ['secret', 'open']), { secret: false, open: true });
    assert.equal((await denyFirst.v2('/v2/secret/tags/list')).status, 403, 'the same through /v2');
    // IAM: an unresolvable variable "causes the statement to be invalid": an Allow holding one grants nothing.
    const token = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
    const allowFirst = await session(token, { Effect: 'Allow', Action: 'ecr:*', Resource: [repo('${aws:username}/*'), repo('open')] });
    const allowLast = await session(token, { Effect: 'Allow', Action: 'ecr:*', Resource: [repo('open'), repo('${aws:username}/*')] });
    assert.deepEqual(await lists(allowFirst, ['open']), { open: false });
    assert.deepEqual(await lists(allowLast, ['open']), { open: false });
    // A Deny's NotResource entry that cannot be resolved excepts nothing.
    const confined = await session(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:ListImages', NotResource: repo('${aws:username}/*') });
    assert.deepEqual(await lists(confined, ['open']), { open: false });
    // For a user the variable resolves, and the same documents read as written.
    const u = await user({ Effect: 'Allow', Action: 'ecr:*', Resource: [repo('${aws:username}/*'), repo('open')] });
    assert.deepEqual(await lists(u, ['open', 'secret']), { open: true, secret: false });
  });

  it('tag keys that differ only in case are one key with both values: a Deny on either value bites', async () => {
    // AWS: a condition on tag key `Owner` "matches both Owner and owner". Before, whichever of
    // the two tags came last decided, so the tag the Deny names could be hidden behind the other.
    const tagged = async (name: string, tags: Array<[string, string]>) =>
      admin.send(new CreateRepositoryCommand({ repositoryName: name, tags: tags.map(([Key, Value]) => ({ Key, Value })) }));
    await tagged('case/upper-prod', [
      ['Env', 'prod'],
      ['env', 'dev'],
    ]);
    await tagged('case/lower-prod', [
      ['env', 'prod'],
      ['Env', 'dev'],
    ]);
    await tagged('case/dev', [['env', 'dev']]);
    const u = await user(ALLOW_ECR, {
      Effect: 'Deny',
      Action: 'ecr:ListImages',
      Resource: '*',
      Condition: { StringEquals: { 'ecr:ResourceTag/env': 'prod' } },
    });
    assert.deepEqual(await lists(u, ['case/upper-prod', 'case/lower-prod', 'case/dev']), {
      'case/upper-prod': false,
      'case/lower-prod': false,
      'case/dev': true,
    });
    // An Allow on the tag needs every value to satisfy it.
    const onlyDev = await user({ Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/ENV': 'dev' } } });
    assert.deepEqual(await lists(onlyDev, ['case/upper-prod', 'case/lower-prod', 'case/dev']), {
      'case/upper-prod': false,
      'case/lower-prod': false,
      'case/dev': true,
    });
    // The tags a request sets, in either order.
    const tagger = await user(ALLOW_ECR, {
      Effect: 'Deny',
      Action: 'ecr:TagResource',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestTag/env': 'prod' } },
    });
    const resourceArn = repo('case/dev');
    for (const tags of [
      [
        { Key: 'env', Value: 'prod' },
        { Key: 'ENV', Value: 'x' },
      ],
      [
        { Key: 'ENV', Value: 'x' },
        { Key: 'env', Value: 'prod' },
      ],
      [
        { Key: 'Env', Value: 'prod' },
        { Key: 'eNv', Value: 'x' },
      ],
    ]) {
      await assert.rejects(tagger.ecr.send(new TagResourceCommand({ resourceArn, tags })), denied, JSON.stringify(tags));
    }
    const now = (await admin.send(new ListTagsForResourceCommand({ resourceArn }))).tags;
    assert.deepEqual(now, [{ Key: 'env', Value: 'dev' }], 'no refused request tagged');
  });

  it('Resource wildcards: * spans / inside the resource part; region, account, partition and case must match', async () => {
    const prefixed = await user({ Effect: 'Allow', Action: 'ecr:ListImages', Resource: 'arn:aws:ecr:*:*:repository/ax*' });
    assert.deepEqual(await lists(prefixed, ['ax', 'axb', 'ax/one', 'bx']), { ax: true, axb: true, 'ax/one': true, bx: false });
    const one = await user({ Effect: 'Allow', Action: 'ecr:ListImages', Resource: 'arn:aws:ecr:us-east-1:*:repository/ax?' });
    assert.deepEqual(await lists(one, ['ax', 'axb', 'ax/one']), { ax: false, axb: true, 'ax/one': false });
    const elsewhere = [
      'arn:aws:ecr:eu-west-1:*:repository/*',
      'arn:aws:ecr:*:111122223333:repository/*',
      'arn:aws-cn:ecr:*:*:repository/*',
      'arn:aws:ecr-public:*:*:repository/*',
      'arn:aws:ecr:*:*:repository/AX*',
      'arn:aws:ecr:*:*:registry/*',
    ];
    for (const Resource of elsewhere) {
      const u = await user({ Effect: 'Allow', Action: 'ecr:ListImages', Resource });
      assert.deepEqual(await lists(u, ['ax']), { ax: false }, Resource);
    }
  });

  it('NotAction with Allow reaches every other action, only on the statement’s resources; NotResource with Deny', async () => {
    const notDescribe = await user({ Effect: 'Allow', NotAction: 'ecr:Describe*', Resource: 'arn:aws:ecr:*:*:repository/ax*' });
    assert.deepEqual(await lists(notDescribe, ['ax', 'bx']), { ax: true, bx: false });
    await assert.rejects(notDescribe.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['ax'] })), denied);
    const iamOf = (u: TestIdentity) => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: u.keys, maxAttempts: 1 });
    await assert.rejects(iamOf(notDescribe).send(new ListUsersCommand({})), denied, 'iam:ListUsers is not on a repository');
    const notEcr = await user({ Effect: 'Allow', NotAction: 'ecr:*', Resource: '*' });
    await iamOf(notEcr).send(new ListUsersCommand({}));
    assert.deepEqual(await lists(notEcr, ['ax']), { ax: false }, 'ECR is the exception');
    // Action names are case-insensitive: the exception covers a differently spelt NotAction too.
    const notDescribeLower = await user(ALLOW_ECR, { Effect: 'Deny', NotAction: 'ECR:describe*', Resource: '*' });
    assert.deepEqual(await lists(notDescribeLower, ['ax']), { ax: false });
    await notDescribeLower.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['ax'] }));
    const fenced = await user(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:*', NotResource: 'arn:aws:ecr:*:*:repository/ax*' });
    assert.deepEqual(await lists(fenced, ['ax', 'ax/one', 'bx', 'open']), { ax: true, 'ax/one': true, bx: false, open: false });
  });

  it('the ${*} and ${?} escapes and defaults; under Version 2008-10-17 a variable is plain text', async () => {
    await admin.send(new TagResourceCommand({ resourceArn: repo('star'), tags: [{ Key: 'team', Value: '*' }] }));
    await admin.send(new TagResourceCommand({ resourceArn: repo('open'), tags: [{ Key: 'team', Value: 'red' }] }));
    const literalStar = await user({ Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*', Condition: { StringLike: { 'ecr:ResourceTag/team': '${*}' } } });
    assert.deepEqual(await lists(literalStar, ['star', 'open']), { star: true, open: false }, '${*} is a literal asterisk');
    const literalQuestion = await user({
      Effect: 'Allow',
      Action: 'ecr:ListImages',
      Resource: '*',
      Condition: { StringLike: { 'ecr:ResourceTag/team': 'r${?}d' } },
    });
    assert.deepEqual(await lists(literalQuestion, ['open']), { open: false }, '${?} is a literal question mark, not any one character');
    const withDefault = await user({
      Effect: 'Allow',
      Action: 'ecr:ListImages',
      Resource: '*',
      Condition: { StringEquals: { 'ecr:ResourceTag/team': "${aws:PrincipalTag/team, 'red'}" } },
    });
    assert.deepEqual(await lists(withDefault, ['open', 'star']), { open: true, star: false }, 'an untagged user reads the default');
    const name = `pe-${n + 1}`;
    await admin.send(new CreateRepositoryCommand({ repositoryName: `own/${name}` }));
    const old = { Version: '2008-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:ListImages', Resource: repo('own/${aws:username}') }] };
    const u = await createUser(berth, iam, `pe-${++n}`, [], [old]);
    assert.deepEqual(await lists(u, [`own/${name}`]), { [`own/${name}`]: false }, 'no substitution under 2008-10-17');
    const textual = { Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*', Condition: { StringEquals: { 'aws:username': '${aws:username}' } } };
    const v2012 = await createUser(berth, iam, `pe-${++n}`, [], [{ Version: '2012-10-17', Statement: [textual] }]);
    const v2008 = await createUser(berth, iam, `pe-${++n}`, [], [{ Version: '2008-10-17', Statement: [textual] }]);
    const unversioned = await createUser(berth, iam, `pe-${++n}`, [], [{ Statement: [textual] }]);
    assert.deepEqual(await lists(v2012, ['open']), { open: true });
    assert.deepEqual(await lists(v2008, ['open']), { open: false }, 'the condition compares with the text ${aws:username}');
    assert.deepEqual(await lists(unversioned, ['open']), { open: false }, 'no Version is 2008-10-17');
  });

  it("an explicit Deny in a boundary or a session policy beats a repository policy's grant naming the caller itself", async () => {
    // IAM: such a grant is not capped by an implicit deny in the boundary or the session policy,
    // but an explicit Deny in any policy type wins.
    const grant = (principal: string) =>
      admin.send(
        new SetRepositoryPolicyCommand({
          repositoryName: 'open',
          policyText: JSON.stringify(doc({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'ecr:ListImages' })),
        }),
      );
    const boundary = await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'pe-boundary',
        PolicyDocument: JSON.stringify(doc(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:ListImages', Resource: repo('open') })),
      }),
    );
    const u = await user({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' });
    await grant(`arn:aws:iam::${ACCOUNT}:user/pe-${n}`);
    assert.deepEqual(await lists(u, ['open']), { open: true }, 'the grant alone, before the boundary');
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: `pe-${n}`, PermissionsBoundary: boundary.Policy!.Arn! }));
    assert.deepEqual(await lists(u, ['open']), { open: false }, "the boundary's Deny");
    const role = `pe-role-${++n}`;
    const trust = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' });
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await grant(`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/s1`);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const assume = async (policy?: object) =>
      ecrClient(
        berth,
        sessionKeys(
          (
            await sts.send(
              new AssumeRoleCommand({
                RoleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
                RoleSessionName: 's1',
                ...(policy && { Policy: JSON.stringify(policy) }),
              }),
            )
          ).Credentials,
        ),
      );
    assert.deepEqual(await lists({ ecr: await assume() }, ['open']), { open: true }, 'the grant to the session, with no role policy');
    const narrowed = await assume(doc({ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }));
    assert.deepEqual(await lists({ ecr: narrowed }, ['open']), { open: true }, "a session policy's implicit deny does not cap it");
    const denying = await assume(doc(ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:ListImages', Resource: '*' }));
    assert.deepEqual(await lists({ ecr: denying }, ['open']), { open: false }, "the session policy's Deny");
  });

  it('documents IAM refuses are refused when put, and nothing is stored', async () => {
    const s = (extra: object) => doc({ Effect: 'Allow', Action: 'ecr:ListImages', Resource: '*', ...extra });
    const bad: Array<[string, string]> = [
      ['an Effect in lower case', JSON.stringify(doc({ Effect: 'allow', Action: 'ecr:ListImages', Resource: '*' }))],
      ['an unknown Effect', JSON.stringify(doc({ Effect: 'Permit', Action: 'ecr:ListImages', Resource: '*' }))],
      ['an action with a space', JSON.stringify(doc({ Effect: 'Allow', Action: 'ecr: ListImages', Resource: '*' }))],
      ['both Action and NotAction', JSON.stringify(s({ NotAction: 'ecr:DescribeRepositories' }))],
      ['both Resource and NotResource', JSON.stringify(s({ NotResource: repo('bx') }))],
      ['a condition value that is an object', JSON.stringify(s({ Condition: { StringEquals: { 'aws:username': { ax: 1 } } } }))],
      ['a condition value that is null', JSON.stringify(s({ Condition: { StringEquals: { 'aws:username': null } } }))],
      ['one condition key spelt twice', JSON.stringify(s({ Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod', 'aws:resourcetag/ENV': 'dev' } } }))],
      ['an IfExists on Null', JSON.stringify(s({ Condition: { NullIfExists: { 'aws:username': 'true' } } }))],
      ['a repeated Effect (the first a Deny)', `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:*","Resource":"*","Effect":"Allow"}]}`],
      [
        'a repeated Effect spelt with an escape',
        `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:*","Resource":"*","Eff\\u0065ct":"Allow"}]}`,
      ],
      ['an over-size document', JSON.stringify(s({ Sid: 'x'.repeat(7000) }))],
    ];
    const u = await createUser(berth, iam, `pe-${++n}`, [], []);
    for (const [what, text] of bad) {
      await assert.rejects(
        iam.send(new PutUserPolicyCommand({ UserName: `pe-${n}`, PolicyName: 'bad', PolicyDocument: text })),
        { name: 'MalformedPolicyDocumentException' },
        what,
      );
    }
    assert.deepEqual(await lists(u, ['ax']), { ax: false }, 'no refused document was stored');
    const asRepositoryPolicy = (text: string) => text.replace('"Resource":"*"', '"Principal":"*"').replaceAll(',"Resource":"*"', '');
    for (const [what, text] of bad.filter(([w]) => w !== 'both Resource and NotResource' && w !== 'an over-size document')) {
      await assert.rejects(
        admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'ax', policyText: asRepositoryPolicy(text) })),
        { name: 'InvalidParameterException' },
        what,
      );
    }
  });

  it('arn:aws:ecr:*:*:repository/ax* reaches account A’s ax; a Resource naming the caller’s own account does not; both sides must allow', async () => {
    const grant = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 'ecr:ListImages' });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'ax', policyText: JSON.stringify(grant) }));
    await createAccount(berth, OTHER);
    const root = await otherAccountIdentity(berth, OTHER);
    const otherIam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: root.keys, maxAttempts: 1 });
    const other = (name: string, Resource: string) => createUser(berth, otherIam, name, [], [doc({ Effect: 'Allow', Action: 'ecr:ListImages', Resource })]);
    const listsThere = (u: TestIdentity, name: string) =>
      u.ecr.send(new ListImagesCommand({ registryId: ACCOUNT, repositoryName: name })).then(
        () => true,
        (e: Error) => (denied(e) ? false : Promise.reject(e)),
      );
    const anyAccount = await other('x-any', 'arn:aws:ecr:*:*:repository/ax*');
    assert.equal(await listsThere(anyAccount, 'ax'), true);
    assert.equal(await listsThere(anyAccount, 'axb'), false, 'no repository policy grants it: across accounts both sides must allow');
    const ownAccount = await other('x-own', `arn:aws:ecr:*:${OTHER}:repository/*`);
    assert.equal(await listsThere(ownAccount, 'ax'), false, "the repository's ARN carries its owner's account");
    const exact = await other('x-exact', repo('ax'));
    assert.equal(await listsThere(exact, 'ax'), true);
  });
});
