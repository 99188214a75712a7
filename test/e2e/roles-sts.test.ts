/**
 * Issue #16 points 1–2: IAM roles, STS and temporary credentials, through the real AWS CLI and
 * skopeo. A CI user that may only assume a pusher role pushes through it; without the role it
 * cannot; an OIDC issuer on loopback has its tokens exchanged for role credentials (and rotates
 * its key); trust policy conditions refuse a wrong `sub`; hostile web identity tokens are refused
 * with STS's errors; a deleted role ends its sessions.
 *
 * The CLI makes at least one call of each operation family (roles, role policies, OIDC providers,
 * AssumeRole, GetSessionToken, AssumeRoleWithWebIdentity, GetCallerIdentity, the ECR login), so
 * botocore's view of each shape stays checked; the other calls go through the SDK, another real
 * client, at a thousandth of a CLI process's CPU (~0.9 s each on a 2-core machine).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  CreateRepositoryCommand,
  DeleteRepositoryPolicyCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import {
  AttachRolePolicyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, type AssumeRoleCommandInput, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { startIssuer, type TestIssuer } from './helpers/oidc-issuer.js';
import { refusal } from './helpers/refusal.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const iamClient = (berth: BerthProcess, who: Credentials = adminCredentials(berth)) =>
  new IAMClient({ endpoint: berth.url, region: berth.region, credentials: who, maxAttempts: 1 });
/** Unsigned when no one is given (AssumeRoleWithWebIdentity). */
const stsClient = (berth: BerthProcess, who?: Credentials) =>
  new STSClient({ endpoint: berth.url, region: berth.region, maxAttempts: 1, ...(who && { credentials: who }) });

/** The aws CLI's JSON answer, read field by field in assertions (a mismatch fails the assertion that reads it). */
// biome-ignore lint/suspicious/noExplicitAny: the CLI's answers are untyped JSON, and each test reads the fields it checks
type Answer = Record<string, any>;

interface Session extends Credentials {
  sessionToken: string;
}

describe('roles and temporary credentials (aws CLI, skopeo)', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let issuer: TestIssuer;
  let ci: Credentials;
  let stranger: Credentials;

  const env = (who?: Credentials | Session): NodeJS.ProcessEnv => {
    const e = awsCliEnv(berth, who);
    if (who && 'sessionToken' in who) e.AWS_SESSION_TOKEN = who.sessionToken;
    return e;
  };
  /** `aws ...` as someone (the admin when unset); the parsed JSON answer. */
  const aws = async (who: Credentials | Session | undefined, ...args: string[]) =>
    JSON.parse((await run('aws', [...args, '--output', 'json'], { env: env(who) })).stdout || '{}') as Answer;
  /** `aws ...` that must fail; its stderr. */
  const awsFails = async (who: Credentials | Session | undefined, ...args: string[]): Promise<string> => {
    try {
      await run('aws', args, { env: env(who) });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  /** From the CLI's answer or the SDK's (the same field names). */
  const sessionOf = (answer: Answer): Session => ({
    accessKeyId: answer.Credentials.AccessKeyId,
    secretAccessKey: answer.Credentials.SecretAccessKey,
    sessionToken: answer.Credentials.SessionToken,
  });
  /** SDK clients acting as someone (the admin when unset). */
  const iam = (who?: Credentials) => iamClient(berth, who);
  const sts = (who: Credentials) => stsClient(berth, who);
  const ecr = (who?: Credentials) => ecrClient(berth, who);
  /** AssumeRole through the SDK, as `who`. */
  const assumeRole = async (who: Credentials, input: AssumeRoleCommandInput): Promise<Session> => sessionOf(await sts(who).send(new AssumeRoleCommand(input)));
  /** A user with an access key, set up through the SDK: the CLI's calls are kept for what is under test. */
  const newUser = async (name: string, inline?: object): Promise<Credentials> =>
    (await createUser(berth, iamClient(berth), name, [], inline ? [inline] : [])).keys;

  before(async () => {
    [berth, skopeo, issuer] = await Promise.all([startBerth(), createSkopeo(), startIssuer('RS256')]);
    // The trust names the account, so a caller also needs sts:AssumeRole in its own policies.
    const trust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
    };
    // Independent set-ups side by side (each AWS CLI call is most of a second of CPU).
    const pusher = async () => {
      const iam = iamClient(berth);
      await iam.send(new CreateRoleCommand({ RoleName: 'pusher', AssumeRolePolicyDocument: JSON.stringify(trust), MaxSessionDuration: 7200 }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: 'pusher', PolicyArn: POWER_USER }));
    };
    [ci, stranger] = await Promise.all([
      newUser('ci', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: roleArn('pusher') }],
      }),
      newUser('stranger'),
      pusher(),
      ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'ci/app' })),
    ]);
  });
  after(async () => {
    await berth?.stop();
    await skopeo?.cleanup();
    await issuer?.close();
  });

  it('manages roles with IAM: create, get, list, update, trust policy, inline and managed policies, delete order', async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole' }] };
    const created = await aws(
      undefined,
      'iam',
      'create-role',
      '--role-name',
      'scratch',
      '--path',
      '/team/',
      '--description',
      'scratch role',
      '--assume-role-policy-document',
      JSON.stringify(trust),
      '--tags',
      'Key=team,Value=blue',
    );
    assert.equal(created.Role.Arn, `arn:aws:iam::${ACCOUNT}:role/team/scratch`);
    assert.match(created.Role.RoleId, /^AROA[A-Z0-9]{17}$/);
    assert.equal(created.Role.MaxSessionDuration, 3600);
    assert.deepEqual(created.Role.AssumeRolePolicyDocument, trust, 'the CLI decodes the trust policy IAM returns URL-encoded');
    assert.match(
      await refusal(iam().send(new CreateRoleCommand({ RoleName: 'scratch', AssumeRolePolicyDocument: JSON.stringify(trust) }))),
      /EntityAlreadyExists/,
    );
    const noPrincipal = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] };
    assert.match(
      await refusal(iam().send(new CreateRoleCommand({ RoleName: 'bad', AssumeRolePolicyDocument: JSON.stringify(noPrincipal) }))),
      /MalformedPolicyDocument/,
    );
    assert.match(
      await refusal(iam().send(new CreateRoleCommand({ RoleName: 'bad', AssumeRolePolicyDocument: JSON.stringify(trust), MaxSessionDuration: 60 }))),
      /ValidationError|valid min value: 3600/,
    );

    await iam().send(new UpdateRoleCommand({ RoleName: 'scratch', MaxSessionDuration: 43200, Description: 'changed' }));
    const narrower = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` } }] };
    await iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: 'scratch', PolicyDocument: JSON.stringify(narrower) }));
    const got = await aws(undefined, 'iam', 'get-role', '--role-name', 'scratch');
    assert.equal(got.Role.MaxSessionDuration, 43200);
    assert.equal(got.Role.Description, 'changed');
    assert.deepEqual(got.Role.Tags, [{ Key: 'team', Value: 'blue' }]);
    assert.deepEqual(got.Role.AssumeRolePolicyDocument, narrower);
    const listed = await iam().send(new ListRolesCommand({ PathPrefix: '/team/' }));
    assert.deepEqual(
      listed.Roles?.map((r) => r.RoleName),
      ['scratch'],
    );

    const inline = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] };
    await iam().send(new PutRolePolicyCommand({ RoleName: 'scratch', PolicyName: 'read', PolicyDocument: JSON.stringify(inline) }));
    await iam().send(new AttachRolePolicyCommand({ RoleName: 'scratch', PolicyArn: POWER_USER }));
    assert.deepEqual((await iam().send(new ListRolePoliciesCommand({ RoleName: 'scratch' }))).PolicyNames, ['read']);
    // The SDK hands back the document as IAM sends it, URL-encoded (the CLI decodes it, above).
    const rolePolicy = await iam().send(new GetRolePolicyCommand({ RoleName: 'scratch', PolicyName: 'read' }));
    assert.deepEqual(JSON.parse(decodeURIComponent(rolePolicy.PolicyDocument!)), inline);
    assert.deepEqual((await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: 'scratch' }))).AttachedPolicies, [
      { PolicyName: 'AmazonEC2ContainerRegistryPowerUser', PolicyArn: POWER_USER },
    ]);
    // As IAM: policies go first.
    assert.match(await refusal(iam().send(new DeleteRoleCommand({ RoleName: 'scratch' }))), /DeleteConflict/);
    await iam().send(new DetachRolePolicyCommand({ RoleName: 'scratch', PolicyArn: POWER_USER }));
    assert.match(await refusal(iam().send(new DeleteRoleCommand({ RoleName: 'scratch' }))), /DeleteConflict/);
    await iam().send(new DeleteRolePolicyCommand({ RoleName: 'scratch', PolicyName: 'read' }));
    await iam().send(new DeleteRoleCommand({ RoleName: 'scratch' }));
    assert.match(await refusal(iam().send(new GetRoleCommand({ RoleName: 'scratch' }))), /NoSuchEntity/);
    // IAM actions go through policies: a user without iam:* may not manage roles.
    assert.match(await awsFails(ci, 'iam', 'list-roles'), /AccessDenied.*iam:ListRoles/);
  });

  it('a CI user that may only assume the pusher role pushes with skopeo through it; the same user alone may not', async () => {
    // Alone, the CI user has no ECR permission at all.
    assert.match(await refusal(ecr(ci).send(new GetAuthorizationTokenCommand({}))), /AccessDenied/);

    const answer = await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'build-42', '--duration-seconds', '3600');
    assert.match(answer.Credentials.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(answer.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/pusher/build-42`);
    const expiration = Date.parse(answer.Credentials.Expiration);
    const session = sessionOf(answer);

    const me = await aws(session, 'sts', 'get-caller-identity');
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/pusher/build-42`);
    assert.match(me.UserId, /^AROA[A-Z0-9]{17}:build-42$/);

    // The login token minted from temporary credentials expires no later than they do.
    const token = await ecr(session).send(new GetAuthorizationTokenCommand({}));
    const tokenExpiry = token.authorizationData![0]!.expiresAt!.getTime();
    assert.ok(
      tokenExpiry <= expiration,
      `the login token expires at ${token.authorizationData![0]!.expiresAt!.toISOString()}, the session at ${answer.Credentials.Expiration}`,
    );
    const { stdout: password } = await run('aws', ['ecr', 'get-login-password'], { env: env(session) });

    const work = await tempDir('berth-roles-');
    await buildImageLayout(work, { layers: 1, layerBytes: 2048, tag: 'v1' });
    await skopeo.copy(`oci:${work}:v1`, `docker://${berth.host}/ci/app:v1`, ['--dest-creds', `AWS:${password.trim()}`]);
    const images = await ecr().send(new DescribeImagesCommand({ repositoryName: 'ci/app' }));
    assert.deepEqual(
      images.imageDetails?.map((d) => d.imageTags),
      [['v1']],
    );

    // The role's policies bound the session: PowerUser cannot create repositories, nor manage IAM.
    assert.match(await refusal(ecr(session).send(new CreateRepositoryCommand({ repositoryName: 'ci/other' }))), /AccessDenied/);
    assert.match(await refusal(iam(session).send(new ListUsersCommand({}))), /AccessDenied/);

    // Without sts:AssumeRole in its own policies, a user of the trusted account is refused.
    assert.match(await refusal(assumeRole(stranger, { RoleArn: roleArn('pusher'), RoleSessionName: 'x1' })), /AccessDenied/);
    // A role that does not exist is a denial too, as STS answers (no probing for names).
    assert.match(await refusal(assumeRole(ci, { RoleArn: roleArn('nope'), RoleSessionName: 'x1' })), /AccessDenied/);
  });

  it('validates AssumeRole: duration bounds, session name, session policy; tags need sts:TagSession and reach aws:PrincipalTag', async () => {
    const pusher = { RoleArn: roleArn('pusher') };
    assert.match(
      await awsFails(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'ok', '--duration-seconds', '7201'),
      /ValidationError.*MaxSessionDuration/,
    );
    // Below STS's minimum the CLI refuses before asking; the SDK sends it, and the server refuses.
    assert.match(await refusal(assumeRole(ci, { ...pusher, RoleSessionName: 'ok', DurationSeconds: 899 })), /ValidationError|ParamValidation|Invalid value/);
    assert.match(await refusal(assumeRole(ci, { ...pusher, RoleSessionName: 'has space' })), /ValidationError/);
    assert.match(await refusal(assumeRole(ci, { ...pusher, RoleSessionName: 'ok', Policy: '{"Statement":[{"Effect":"Allow"}]}' })), /MalformedPolicyDocument/);

    // A session policy narrows what the role allows: this one only lets the session describe.
    const readOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] };
    const narrowed = await assumeRole(ci, { ...pusher, RoleSessionName: 'narrow', Policy: JSON.stringify(readOnly) });
    await ecr(narrowed).send(new DescribeRepositoriesCommand({}));
    assert.match(await refusal(ecr(narrowed).send(new GetAuthorizationTokenCommand({}))), /AccessDenied/);

    // Session tags become aws:PrincipalTag: a repository policy keyed on the tag. The tags go
    // through the CLI (its shorthand, botocore's serialization of the list).
    const tagged = sessionOf(
      await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'tagged', '--tags', 'Key=team,Value=red'),
    );
    const denyRed = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:DescribeImages', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'red' } } }],
    };
    await ecr().send(new SetRepositoryPolicyCommand({ repositoryName: 'ci/app', policyText: JSON.stringify(denyRed) }));
    assert.match(await refusal(ecr(tagged).send(new DescribeImagesCommand({ repositoryName: 'ci/app' }))), /AccessDenied/);
    const untagged = await assumeRole(ci, { ...pusher, RoleSessionName: 'untagged' });
    await ecr(untagged).send(new DescribeImagesCommand({ repositoryName: 'ci/app' }));
    await ecr().send(new DeleteRepositoryPolicyCommand({ repositoryName: 'ci/app' }));

    // A trust policy without sts:TagSession refuses tagged sessions.
    const noTags = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` }, Action: 'sts:AssumeRole' }] };
    await iam().send(new CreateRoleCommand({ RoleName: 'untaggable', AssumeRolePolicyDocument: JSON.stringify(noTags) }));
    assert.match(
      await refusal(assumeRole(ci, { RoleArn: roleArn('untaggable'), RoleSessionName: 's1', Tags: [{ Key: 'team', Value: 'red' }] })),
      /AccessDenied.*sts:TagSession/,
    );
    // The trust names the user itself: no identity permission needed (same account), as IAM decides.
    await assumeRole(ci, { RoleArn: roleArn('untaggable'), RoleSessionName: 's1' });
  });

  it('GetSessionToken gives a user temporary credentials that act as the user, not for IAM', async () => {
    const s = sessionOf(await aws(ci, 'sts', 'get-session-token', '--duration-seconds', '900'));
    assert.equal((await sts(s).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${ACCOUNT}:user/ci`);
    // The user's own policies apply: it may assume the pusher role with these credentials.
    await assumeRole(s, { RoleArn: roleArn('pusher'), RoleSessionName: 'from-session' });
    assert.match(await refusal(iam(s).send(new GetUserCommand({}))), /AccessDenied/);
    // A forged token (its last character changed) is not a session.
    const forged = { ...s, sessionToken: s.sessionToken.slice(0, -2) + (s.sessionToken.endsWith('AA') ? 'BB' : 'AA') };
    assert.match(await refusal(sts(forged).send(new GetCallerIdentityCommand({}))), /InvalidClientTokenId/);
  });

  it('deleting a role ends its sessions', async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` }, Action: 'sts:AssumeRole' }] };
    const create = () => iam().send(new CreateRoleCommand({ RoleName: 'doomed', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await create();
    const s = await assumeRole(ci, { RoleArn: roleArn('doomed'), RoleSessionName: 'last' });
    await sts(s).send(new GetCallerIdentityCommand({}));
    await iam().send(new DeleteRoleCommand({ RoleName: 'doomed' }));
    assert.match(await refusal(sts(s).send(new GetCallerIdentityCommand({}))), /InvalidClientTokenId/);
    // Created again, it is another role (another id): the old session stays dead.
    await create();
    assert.match(await refusal(sts(s).send(new GetCallerIdentityCommand({}))), /InvalidClientTokenId/);
  });

  describe('AssumeRoleWithWebIdentity from an OIDC issuer on loopback', () => {
    const SUB = 'repo:acme/app:ref:refs/heads/main';
    const now = () => Math.floor(Date.now() / 1000);
    const claims = (extra: Record<string, unknown> = {}) => ({ sub: SUB, aud: 'sts.amazonaws.com', iat: now(), exp: now() + 300, ...extra });
    /** Through the CLI, which sends the call unsigned. */
    const exchangeWithCli = (token: string) =>
      aws(undefined, 'sts', 'assume-role-with-web-identity', '--role-arn', roleArn('gha'), '--role-session-name', 'gha-run', '--web-identity-token', token);
    const exchangeFailsWithCli = (token: string) =>
      awsFails(
        undefined,
        'sts',
        'assume-role-with-web-identity',
        '--role-arn',
        roleArn('gha'),
        '--role-session-name',
        'gha-run',
        '--web-identity-token',
        token,
      );
    /** Through the SDK, unsigned too (no credentials). */
    const exchange = (token: string) =>
      stsClient(berth).send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('gha'), RoleSessionName: 'gha-run', WebIdentityToken: token }));
    const refused = (token: string) => refusal(exchange(token));
    const providerArn = (host: string) => `arn:aws:iam::${ACCOUNT}:oidc-provider/${host}`;

    before(async () => {
      const created = await aws(undefined, 'iam', 'create-open-id-connect-provider', '--url', issuer.url, '--client-id-list', 'sts.amazonaws.com');
      assert.equal(created.OpenIDConnectProviderArn, providerArn(issuer.host));
      const trust = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: created.OpenIDConnectProviderArn },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: { [`${issuer.host}:aud`]: 'sts.amazonaws.com' },
              StringLike: { [`${issuer.host}:sub`]: 'repo:acme/app:ref:refs/heads/*' },
            },
          },
        ],
      };
      await iam().send(new CreateRoleCommand({ RoleName: 'gha', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      await iam().send(new AttachRolePolicyCommand({ RoleName: 'gha', PolicyArn: POWER_USER }));
    });

    it('registers providers with IAM (http only on loopback)', async () => {
      const arn = providerArn(issuer.host);
      const got = await aws(undefined, 'iam', 'get-open-id-connect-provider', '--open-id-connect-provider-arn', arn);
      assert.equal(got.Url, issuer.host);
      assert.deepEqual(got.ClientIDList, ['sts.amazonaws.com']);
      const listed = await iam().send(new ListOpenIDConnectProvidersCommand({}));
      assert.deepEqual(listed.OpenIDConnectProviderList, [{ Arn: arn }]);
      const create = (Url: string) => iam().send(new CreateOpenIDConnectProviderCommand({ Url, ClientIDList: ['x'] }));
      assert.match(await refusal(create(issuer.url)), /EntityAlreadyExists/);
      assert.match(await refusal(create('http://example.com')), /ValidationError/);
      await create('https://token.example.com');
      await iam().send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn('token.example.com') }));
      assert.match(
        await refusal(iam().send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn('token.example.com') }))),
        /NoSuchEntity/,
      );
    });

    it('exchanges a token (sent unsigned by the CLI) for role credentials that push; a wrong sub is refused', async () => {
      const answer = await exchangeWithCli(issuer.token(claims()));
      assert.equal(answer.SubjectFromWebIdentityToken, SUB);
      assert.equal(answer.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/gha/gha-run`);
      const s = sessionOf(answer);
      assert.equal((await sts(s).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/gha/gha-run`);
      await ecr(s).send(new DescribeRepositoriesCommand({ repositoryNames: ['ci/app'] }));

      // In AWS's words, which name neither the provider nor the role.
      assert.equal(
        await refused(issuer.token(claims({ sub: 'repo:evil/app:ref:refs/heads/main' }))),
        'AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity',
      );
      assert.match(await refused(issuer.token(claims({ aud: 'someone-else' }))), /InvalidIdentityToken/);
    });

    it('follows a key rotation: a token with a new kid refetches the key set', async () => {
      await exchange(issuer.token(claims()));
      const before = issuer.jwksFetches();
      issuer.rotate('ES256');
      await exchange(issuer.token(claims()));
      assert.equal(issuer.jwksFetches(), before + 1, 'one refetch for the unknown kid');
      // The cached set is used again while it is fresh.
      await exchange(issuer.token(claims()));
      assert.equal(issuer.jwksFetches(), before + 1);
    });

    it('refuses hostile tokens with STS errors', async () => {
      const [h, p] = issuer.token(claims()).split('.');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      // One through the CLI (botocore's view of STS's error); the rest through the SDK (STS's
      // refusals are the server's, whichever real client asks).
      assert.match(await exchangeFailsWithCli(issuer.token(claims({ exp: now() - 3600 }))), /ExpiredTokenException/);
      assert.match(await refused(none), /InvalidIdentityToken/, 'alg none');
      assert.match(await refused(`${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`), /InvalidIdentityToken/, 'bad signature');
      assert.match(await refused(issuer.token(claims({ iat: now() + 3600 }))), /InvalidIdentityToken/, 'issued in the future');
      assert.match(await refused(issuer.token(claims({ iss: 'http://127.0.0.1:1' }))), /InvalidIdentityToken/, 'unregistered issuer');
      assert.match(await refused('x'.repeat(30_000)), /InvalidIdentityToken|ValidationError|Invalid length/, 'huge');
      assert.match(await refused('not.a.jwt'), /InvalidIdentityToken/);
    });
  });
});
