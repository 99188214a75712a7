/**
 * Issue #16 points 1–2: IAM roles, STS and temporary credentials, through the real AWS CLI and
 * skopeo. A CI user that may only assume a pusher role pushes through it; without the role it
 * cannot; an OIDC issuer on loopback has its tokens exchanged for role credentials (and rotates
 * its key); trust policy conditions refuse a wrong `sub`; hostile web identity tokens are refused
 * with STS's errors; a deleted role ends its sessions.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { startIssuer, type TestIssuer } from './helpers/oidc-issuer.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const iamClient = (berth: BerthProcess) => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });

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
  const sessionOf = (answer: Answer): Session => ({
    accessKeyId: answer.Credentials.AccessKeyId,
    secretAccessKey: answer.Credentials.SecretAccessKey,
    sessionToken: answer.Credentials.SessionToken,
  });
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
      await awsFails(undefined, 'iam', 'create-role', '--role-name', 'scratch', '--assume-role-policy-document', JSON.stringify(trust)),
      /EntityAlreadyExists/,
    );
    const noPrincipal = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] };
    assert.match(
      await awsFails(undefined, 'iam', 'create-role', '--role-name', 'bad', '--assume-role-policy-document', JSON.stringify(noPrincipal)),
      /MalformedPolicyDocument/,
    );
    assert.match(
      await awsFails(
        undefined,
        'iam',
        'create-role',
        '--role-name',
        'bad',
        '--assume-role-policy-document',
        JSON.stringify(trust),
        '--max-session-duration',
        '60',
      ),
      /ValidationError|valid min value: 3600/,
    );

    await aws(undefined, 'iam', 'update-role', '--role-name', 'scratch', '--max-session-duration', '43200', '--description', 'changed');
    const got = await aws(undefined, 'iam', 'get-role', '--role-name', 'scratch');
    assert.equal(got.Role.MaxSessionDuration, 43200);
    assert.equal(got.Role.Description, 'changed');
    assert.deepEqual(got.Role.Tags, [{ Key: 'team', Value: 'blue' }]);
    const narrower = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` } }] };
    await aws(undefined, 'iam', 'update-assume-role-policy', '--role-name', 'scratch', '--policy-document', JSON.stringify(narrower));
    assert.deepEqual((await aws(undefined, 'iam', 'get-role', '--role-name', 'scratch')).Role.AssumeRolePolicyDocument, narrower);
    const listed = await aws(undefined, 'iam', 'list-roles', '--path-prefix', '/team/');
    assert.deepEqual(
      listed.Roles.map((r: { RoleName: string }) => r.RoleName),
      ['scratch'],
    );

    const inline = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] };
    await aws(undefined, 'iam', 'put-role-policy', '--role-name', 'scratch', '--policy-name', 'read', '--policy-document', JSON.stringify(inline));
    await aws(undefined, 'iam', 'attach-role-policy', '--role-name', 'scratch', '--policy-arn', POWER_USER);
    assert.deepEqual((await aws(undefined, 'iam', 'list-role-policies', '--role-name', 'scratch')).PolicyNames, ['read']);
    assert.deepEqual((await aws(undefined, 'iam', 'get-role-policy', '--role-name', 'scratch', '--policy-name', 'read')).PolicyDocument, inline);
    assert.deepEqual((await aws(undefined, 'iam', 'list-attached-role-policies', '--role-name', 'scratch')).AttachedPolicies, [
      { PolicyName: 'AmazonEC2ContainerRegistryPowerUser', PolicyArn: POWER_USER },
    ]);
    // As IAM: policies go first.
    assert.match(await awsFails(undefined, 'iam', 'delete-role', '--role-name', 'scratch'), /DeleteConflict/);
    await aws(undefined, 'iam', 'detach-role-policy', '--role-name', 'scratch', '--policy-arn', POWER_USER);
    assert.match(await awsFails(undefined, 'iam', 'delete-role', '--role-name', 'scratch'), /DeleteConflict/);
    await aws(undefined, 'iam', 'delete-role-policy', '--role-name', 'scratch', '--policy-name', 'read');
    await aws(undefined, 'iam', 'delete-role', '--role-name', 'scratch');
    assert.match(await awsFails(undefined, 'iam', 'get-role', '--role-name', 'scratch'), /NoSuchEntity/);
    // IAM actions go through policies: a user without iam:* may not manage roles.
    assert.match(await awsFails(ci, 'iam', 'list-roles'), /AccessDenied.*iam:ListRoles/);
  });

  it('a CI user that may only assume the pusher role pushes with skopeo through it; the same user alone may not', async () => {
    // Alone, the CI user has no ECR permission at all.
    assert.match(await awsFails(ci, 'ecr', 'get-login-password'), /AccessDenied/);

    const answer = await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'build-42', '--duration-seconds', '3600');
    assert.match(answer.Credentials.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(answer.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/pusher/build-42`);
    const expiration = Date.parse(answer.Credentials.Expiration);
    const session = sessionOf(answer);

    const me = await aws(session, 'sts', 'get-caller-identity');
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/pusher/build-42`);
    assert.match(me.UserId, /^AROA[A-Z0-9]{17}:build-42$/);

    // The login token minted from temporary credentials expires no later than they do.
    const token = await aws(session, 'ecr', 'get-authorization-token');
    // The CLI's JSON prints ECR's expiresAt as epoch seconds.
    const tokenExpiry = Number(token.authorizationData[0].expiresAt) * 1000;
    assert.ok(tokenExpiry <= expiration, `the login token expires at ${token.authorizationData[0].expiresAt}, the session at ${answer.Credentials.Expiration}`);
    const { stdout: password } = await run('aws', ['ecr', 'get-login-password'], { env: env(session) });

    const work = await tempDir('berth-roles-');
    await buildImageLayout(work, { layers: 1, layerBytes: 2048, tag: 'v1' });
    await skopeo.copy(`oci:${work}:v1`, `docker://${berth.host}/ci/app:v1`, ['--dest-creds', `AWS:${password.trim()}`]);
    const images = await aws(undefined, 'ecr', 'describe-images', '--repository-name', 'ci/app');
    assert.deepEqual(
      images.imageDetails.map((d: { imageTags: string[] }) => d.imageTags),
      [['v1']],
    );

    // The role's policies bound the session: PowerUser cannot create repositories, nor manage IAM.
    assert.match(await awsFails(session, 'ecr', 'create-repository', '--repository-name', 'ci/other'), /AccessDenied/);
    assert.match(await awsFails(session, 'iam', 'list-users'), /AccessDenied/);

    // Without sts:AssumeRole in its own policies, a user of the trusted account is refused.
    assert.match(await awsFails(stranger, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'x1'), /AccessDenied/);
    // A role that does not exist is a denial too, as STS answers (no probing for names).
    assert.match(await awsFails(ci, 'sts', 'assume-role', '--role-arn', roleArn('nope'), '--role-session-name', 'x1'), /AccessDenied/);
  });

  it('validates AssumeRole: duration bounds, session name, session policy; tags need sts:TagSession and reach aws:PrincipalTag', async () => {
    const assume = (...extra: string[]) => awsFails(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), ...extra);
    assert.match(await assume('--role-session-name', 'ok', '--duration-seconds', '7201'), /ValidationError.*MaxSessionDuration/);
    assert.match(await assume('--role-session-name', 'ok', '--duration-seconds', '899'), /ValidationError|ParamValidation|Invalid value/);
    assert.match(await assume('--role-session-name', 'has space'), /ValidationError/);
    assert.match(await assume('--role-session-name', 'ok', '--policy', '{"Statement":[{"Effect":"Allow"}]}'), /MalformedPolicyDocument/);

    // A session policy narrows what the role allows: this one only lets the session describe.
    const readOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] };
    const narrowed = sessionOf(
      await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'narrow', '--policy', JSON.stringify(readOnly)),
    );
    await aws(narrowed, 'ecr', 'describe-repositories');
    assert.match(await awsFails(narrowed, 'ecr', 'get-login-password'), /AccessDenied/);

    // Session tags become aws:PrincipalTag: a repository policy keyed on the tag.
    const tagged = sessionOf(
      await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'tagged', '--tags', 'Key=team,Value=red'),
    );
    const denyRed = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:DescribeImages', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'red' } } }],
    };
    await aws(undefined, 'ecr', 'set-repository-policy', '--repository-name', 'ci/app', '--policy-text', JSON.stringify(denyRed));
    assert.match(await awsFails(tagged, 'ecr', 'describe-images', '--repository-name', 'ci/app'), /AccessDenied/);
    const untagged = sessionOf(await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'untagged'));
    await aws(untagged, 'ecr', 'describe-images', '--repository-name', 'ci/app');
    await aws(undefined, 'ecr', 'delete-repository-policy', '--repository-name', 'ci/app');

    // A trust policy without sts:TagSession refuses tagged sessions.
    const noTags = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` }, Action: 'sts:AssumeRole' }] };
    await aws(undefined, 'iam', 'create-role', '--role-name', 'untaggable', '--assume-role-policy-document', JSON.stringify(noTags));
    assert.match(
      await awsFails(ci, 'sts', 'assume-role', '--role-arn', roleArn('untaggable'), '--role-session-name', 's1', '--tags', 'Key=team,Value=red'),
      /AccessDenied.*sts:TagSession/,
    );
    // The trust names the user itself: no identity permission needed (same account), as IAM decides.
    await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('untaggable'), '--role-session-name', 's1');
  });

  it('GetSessionToken gives a user temporary credentials that act as the user, not for IAM', async () => {
    const s = sessionOf(await aws(ci, 'sts', 'get-session-token', '--duration-seconds', '900'));
    assert.equal((await aws(s, 'sts', 'get-caller-identity')).Arn, `arn:aws:iam::${ACCOUNT}:user/ci`);
    // The user's own policies apply: it may assume the pusher role with these credentials.
    await aws(s, 'sts', 'assume-role', '--role-arn', roleArn('pusher'), '--role-session-name', 'from-session');
    assert.match(await awsFails(s, 'iam', 'get-user'), /AccessDenied/);
    // A forged token (its last character changed) is not a session.
    const forged = { ...s, sessionToken: s.sessionToken.slice(0, -2) + (s.sessionToken.endsWith('AA') ? 'BB' : 'AA') };
    assert.match(await awsFails(forged, 'sts', 'get-caller-identity'), /InvalidClientTokenId/);
  });

  it('deleting a role ends its sessions', async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/ci` }, Action: 'sts:AssumeRole' }] };
    await aws(undefined, 'iam', 'create-role', '--role-name', 'doomed', '--assume-role-policy-document', JSON.stringify(trust));
    const s = sessionOf(await aws(ci, 'sts', 'assume-role', '--role-arn', roleArn('doomed'), '--role-session-name', 'last'));
    await aws(s, 'sts', 'get-caller-identity');
    await aws(undefined, 'iam', 'delete-role', '--role-name', 'doomed');
    assert.match(await awsFails(s, 'sts', 'get-caller-identity'), /InvalidClientTokenId/);
    // Created again, it is another role (another id): the old session stays dead.
    await aws(undefined, 'iam', 'create-role', '--role-name', 'doomed', '--assume-role-policy-document', JSON.stringify(trust));
    assert.match(await awsFails(s, 'sts', 'get-caller-identity'), /InvalidClientTokenId/);
  });

  describe('AssumeRoleWithWebIdentity from an OIDC issuer on loopback', () => {
    const SUB = 'repo:acme/app:ref:refs/heads/main';
    const now = () => Math.floor(Date.now() / 1000);
    const claims = (extra: Record<string, unknown> = {}) => ({ sub: SUB, aud: 'sts.amazonaws.com', iat: now(), exp: now() + 300, ...extra });
    const exchange = (token: string, role = 'gha') =>
      aws(undefined, 'sts', 'assume-role-with-web-identity', '--role-arn', roleArn(role), '--role-session-name', 'gha-run', '--web-identity-token', token);
    const exchangeFails = (token: string) =>
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

    before(async () => {
      const created = await aws(undefined, 'iam', 'create-open-id-connect-provider', '--url', issuer.url, '--client-id-list', 'sts.amazonaws.com');
      assert.equal(created.OpenIDConnectProviderArn, `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.host}`);
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
      await aws(undefined, 'iam', 'create-role', '--role-name', 'gha', '--assume-role-policy-document', JSON.stringify(trust));
      await aws(undefined, 'iam', 'attach-role-policy', '--role-name', 'gha', '--policy-arn', POWER_USER);
    });

    it('registers providers with IAM (http only on loopback)', async () => {
      const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.host}`;
      const got = await aws(undefined, 'iam', 'get-open-id-connect-provider', '--open-id-connect-provider-arn', arn);
      assert.equal(got.Url, issuer.host);
      assert.deepEqual(got.ClientIDList, ['sts.amazonaws.com']);
      const listed = await aws(undefined, 'iam', 'list-open-id-connect-providers');
      assert.deepEqual(listed.OpenIDConnectProviderList, [{ Arn: arn }]);
      assert.match(await awsFails(undefined, 'iam', 'create-open-id-connect-provider', '--url', issuer.url, '--client-id-list', 'x'), /EntityAlreadyExists/);
      assert.match(
        await awsFails(undefined, 'iam', 'create-open-id-connect-provider', '--url', 'http://example.com', '--client-id-list', 'x'),
        /ValidationError/,
      );
      await aws(undefined, 'iam', 'create-open-id-connect-provider', '--url', 'https://token.example.com', '--client-id-list', 'x');
      await aws(
        undefined,
        'iam',
        'delete-open-id-connect-provider',
        '--open-id-connect-provider-arn',
        `arn:aws:iam::${ACCOUNT}:oidc-provider/token.example.com`,
      );
      assert.match(
        await awsFails(
          undefined,
          'iam',
          'get-open-id-connect-provider',
          '--open-id-connect-provider-arn',
          `arn:aws:iam::${ACCOUNT}:oidc-provider/token.example.com`,
        ),
        /NoSuchEntity/,
      );
    });

    it('exchanges a token (sent unsigned by the CLI) for role credentials that push; a wrong sub is refused', async () => {
      const answer = await exchange(issuer.token(claims()));
      assert.equal(answer.SubjectFromWebIdentityToken, SUB);
      assert.equal(answer.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/gha/gha-run`);
      const s = sessionOf(answer);
      assert.equal((await aws(s, 'sts', 'get-caller-identity')).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/gha/gha-run`);
      await aws(s, 'ecr', 'describe-repositories', '--repository-names', 'ci/app');

      assert.match(await exchangeFails(issuer.token(claims({ sub: 'repo:evil/app:ref:refs/heads/main' }))), /AccessDenied/);
      assert.match(await exchangeFails(issuer.token(claims({ aud: 'someone-else' }))), /InvalidIdentityToken/);
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
      // Two through the CLI; the rest through the SDK (STS's refusals are the server's, whichever
      // real client asks, and an SDK call costs a thousandth of a CLI run's CPU).
      assert.match(await exchangeFails(none), /InvalidIdentityToken/);
      assert.match(await exchangeFails(issuer.token(claims({ exp: now() - 3600 }))), /ExpiredTokenException/);
      // AssumeRoleWithWebIdentity is unsigned: the SDK sends it with no credentials.
      const sts = new STSClient({ endpoint: berth.url, region: berth.region, maxAttempts: 1 });
      const refused = async (token: string): Promise<string> => {
        try {
          await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('gha'), RoleSessionName: 'gha-run', WebIdentityToken: token }));
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
        return assert.fail('a hostile token was exchanged');
      };
      assert.match(await refused(`${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`), /InvalidIdentityToken/, 'bad signature');
      assert.match(await refused(issuer.token(claims({ iat: now() + 3600 }))), /InvalidIdentityToken/, 'issued in the future');
      assert.match(await refused(issuer.token(claims({ iss: 'http://127.0.0.1:1' }))), /InvalidIdentityToken/, 'unregistered issuer');
      assert.match(await refused('x'.repeat(30_000)), /InvalidIdentityToken|ValidationError|Invalid length/, 'huge');
      assert.match(await refused('not.a.jwt'), /InvalidIdentityToken/);
      sts.destroy();
    });
  });
});
