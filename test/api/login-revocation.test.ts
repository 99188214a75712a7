/**
 * A /v2 login outlives nothing it was minted with, over real HTTP against the in-process app with
 * the AWS SDK: a login token from a long-term access key (a user's or the root's), and the Bearer
 * tokens /token exchanges it for, are refused (401 UNAUTHORIZED) once that key is deleted or made
 * inactive, while the user's other keys' tokens go on. Tokens minted from temporary credentials
 * follow their session, as STS's do: the key that asked for the session may go, the session's
 * role or user may not, and a Deny on aws:TokenIssueTime refuses them. Console sessions likewise.
 * A user deleted and made again under its name is another user: nothing of the first passes.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateRoleCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DetachUserPolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED } from '../e2e/helpers/iam-users.js';
import { errorCode, request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const REPO = 'revoke/app';
const PASSWORD = 'Correct-Horse-9';

describe('logins end with the credentials they were minted with', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  const ecr = (credentials: Credentials & { sessionToken?: string }) =>
    new ECRClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  /** `Basic <AWS:token>` from GetAuthorizationToken with these credentials. */
  const loginWith = async (credentials: Credentials & { sessionToken?: string }) =>
    `Basic ${(await ecr(credentials).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!}`;
  /** The Bearer token /token hands out for a Basic login, as docker and skopeo fetch it. */
  const bearerFor = async (basic: string) => {
    const r = await fetch(`${berth.url}/token?service=berth&scope=repository:${REPO}:pull`, { headers: { authorization: basic } });
    assert.equal(r.status, 200, 'the exchange succeeds while the login stands');
    return `Bearer ${((await r.json()) as { token: string }).token}`;
  };
  /** Status and OCI code of a tags listing with this Authorization. */
  const tags = async (authorization: string) => {
    const r = await request(`${berth.url}/v2/${REPO}/tags/list`, { headers: { authorization } });
    return [r.status, r.status === 200 ? 'OK' : errorCode(r)];
  };
  const OK = [200, 'OK'];
  const REFUSED = [401, 'UNAUTHORIZED'];
  /** Everything a holder of the token can read from it: the text, and each '.'-part decoded. */
  const readable = (authorization: string) => {
    const token = authorization.startsWith('Basic ')
      ? Buffer.from(authorization.slice(6), 'base64').toString().replace(/^AWS:/, '')
      : authorization.replace(/^Bearer /, '');
    return [token, ...token.split('.').map((p) => Buffer.from(p, 'base64url').toString('latin1'))].join('\n');
  };
  const exchange = async (basic: string) => (await fetch(`${berth.url}/token?service=berth`, { headers: { authorization: basic } })).status;

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await ecr(adminCredentials(berth)).send(new CreateRepositoryCommand({ repositoryName: REPO }));
  });
  after(async () => berth?.cleanup());

  it("refuses a user's login and its Bearer tokens while the key is inactive, and once it is deleted; the other key's login goes on", async () => {
    const user = await createUser(berth, iam, 'rotator', ['ReadOnly']);
    const second = (await iam.send(new CreateAccessKeyCommand({ UserName: 'rotator' }))).AccessKey!;
    const other = await loginWith({ accessKeyId: second.AccessKeyId!, secretAccessKey: second.SecretAccessKey! });
    const basic = user.authorization!;
    const bearer = await bearerFor(basic);
    assert.deepEqual([await tags(basic), await tags(bearer)], [OK, OK]);

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'rotator', AccessKeyId: user.keys.accessKeyId, Status: 'Inactive' }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [REFUSED, REFUSED], 'an inactive key stops its login at once on the node that changed it');
    assert.equal(await exchange(basic), 401, 'and /token gives it no Bearer token');
    assert.deepEqual(await tags(other), OK, "the user's other key is untouched");

    // As SigV4 with the key: made active again, it signs again, and its logins stand again.
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'rotator', AccessKeyId: user.keys.accessKeyId, Status: 'Active' }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [OK, OK]);

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'rotator', AccessKeyId: user.keys.accessKeyId }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [REFUSED, REFUSED], 'a deleted key ends its login');
    const refused = await request(`${berth.url}/v2/${REPO}/tags/list`, { headers: { authorization: basic } });
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer realm="/, 'with the challenge, so a client logs in again');
    assert.match(refused.body.toString(), new RegExp(`access key ${user.keys.accessKeyId} of this login token is no longer active`));
    assert.deepEqual(await tags(other), OK);
  });

  it("refuses a login minted with one of the root's keys once that key is deleted", async () => {
    const made = (await iam.send(new CreateAccessKeyCommand({}))).AccessKey!;
    assert.equal(made.UserName, undefined, "the root's own key");
    const basic = await loginWith({ accessKeyId: made.AccessKeyId!, secretAccessKey: made.SecretAccessKey! });
    const bearer = await bearerFor(basic);
    assert.deepEqual([await tags(basic), await tags(bearer)], [OK, OK]);
    await iam.send(new DeleteAccessKeyCommand({ AccessKeyId: made.AccessKeyId! }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [REFUSED, REFUSED]);
    assert.deepEqual(await tags(berth.authorization), OK, "the bootstrap key's login is another key's");
  });

  it("keeps a GetSessionToken session's login when the key that asked for it goes (as STS does), and ends it with the user", async () => {
    const user = await createUser(berth, iam, 'sessioned', ['ReadOnly']);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: user.keys, maxAttempts: 1 });
    const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    const basic = await loginWith({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    const bearer = await bearerFor(basic);
    // The login and Bearer tokens name the session, but reveal nothing of it (nor any key) to their holder.
    for (const token of [basic, bearer]) {
      const text = readable(token);
      for (const [what, secret] of [
        ['session token', c.SessionToken!],
        ['start of the session token', c.SessionToken!.slice(0, 16)],
        ['secret key', c.SecretAccessKey!],
        ['temporary access key id', c.AccessKeyId!],
        ["user's secret key", user.keys.secretAccessKey],
      ] as const)
        assert.ok(!text.includes(secret), `the ${what} is readable in ${token.slice(0, 6)}`);
    }
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'sessioned', AccessKeyId: user.keys.accessKeyId }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [OK, OK], 'temporary credentials outlive the key that asked for them');
    await iam.send(new DetachUserPolicyCommand({ UserName: 'sessioned', PolicyArn: `${MANAGED}ReadOnly` }));
    await iam.send(new DeleteUserCommand({ UserName: 'sessioned' }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [REFUSED, REFUSED], 'not their user');
  });

  it("ends a role session's login when the role is deleted, and refuses it under a Deny on aws:TokenIssueTime", async () => {
    const assumer = await createUser(
      berth,
      iam,
      'assumer',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }],
    );
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    await iam.send(new CreateRoleCommand({ RoleName: 'puller', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'puller', PolicyName: 'read', PolicyDocument: JSON.stringify(allowReads) }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/puller`, RoleSessionName: 'pull' }))).Credentials!;
    const basic = await loginWith({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    const bearer = await bearerFor(basic);
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'assumer', AccessKeyId: assumer.keys.accessKeyId }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [OK, OK], "the assumer's key is not the session");

    // IAM's "revoke active sessions": a Deny on sessions issued before now.
    const revokeBefore = new Date(Date.now() + 60_000).toISOString();
    const revoke = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': revokeBefore } } }],
    };
    await iam.send(new PutRolePolicyCommand({ RoleName: 'puller', PolicyName: 'revoke', PolicyDocument: JSON.stringify(revoke) }));
    for (const authorization of [basic, bearer]) assert.deepEqual(await tags(authorization), [403, 'DENIED'], 'a revoked session is denied on /v2');
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'puller', PolicyName: 'revoke' }));
    assert.deepEqual(await tags(basic), OK);

    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'puller', PolicyName: 'read' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'puller' }));
    assert.deepEqual([await tags(basic), await tags(bearer)], [REFUSED, REFUSED], 'a deleted role ends its sessions and their logins');
    await iam.send(new CreateRoleCommand({ RoleName: 'puller', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'puller', PolicyName: 'read', PolicyDocument: JSON.stringify(allowReads) }));
    assert.deepEqual(await tags(basic), REFUSED, 'a role made again under the name is another role');
  });

  it('gives nothing of a deleted user to one made again under its name: its GetSessionToken session and console login stay ended', async () => {
    const first = await createUser(berth, iam, 'twin', ['ReadOnly']);
    await iam.send(new CreateLoginProfileCommand({ UserName: 'twin', Password: PASSWORD, PasswordResetRequired: false }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: first.keys, maxAttempts: 1 });
    const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    const session = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const bySession = await loginWith(session);
    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn({ accountId: ACCOUNT, userName: 'twin', password: PASSWORD })).status, 200);
    const got = await b.ecr('GetAuthorizationToken');
    const byPassword = `Basic ${(got.body.authorizationData as Array<{ authorizationToken: string }>)[0]!.authorizationToken}`;
    const byPasswordBearer = await bearerFor(byPassword);
    assert.deepEqual([await tags(bySession), await tags(byPassword), await tags(byPasswordBearer)], [OK, OK, OK]);

    await iam.send(new DeleteLoginProfileCommand({ UserName: 'twin' }));
    await iam.send(new DetachUserPolicyCommand({ UserName: 'twin', PolicyArn: `${MANAGED}ReadOnly` }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'twin', AccessKeyId: first.keys.accessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: 'twin' }));
    // Another person, the same name, path and policy.
    const second = await createUser(berth, iam, 'twin', ['ReadOnly']);
    assert.deepEqual(await tags(second.authorization!), OK);
    assert.deepEqual([await tags(bySession), await tags(byPassword), await tags(byPasswordBearer)], [REFUSED, REFUSED, REFUSED]);
    await assert.rejects(ecr(session).send(new DescribeRepositoriesCommand({})), { name: 'UnrecognizedClientException' });
  });

  it("ends a console session's login with the key it signed in with, or with the user it signed in as", async () => {
    const user = await createUser(berth, iam, 'clicker', ['ReadOnly']);
    await iam.send(new CreateLoginProfileCommand({ UserName: 'clicker', Password: PASSWORD, PasswordResetRequired: false }));
    const consoleLogin = async (credentials: object) => {
      const b = new ConsoleBrowser(berth.url);
      assert.equal((await b.signIn(credentials)).status, 200);
      const got = await b.ecr('GetAuthorizationToken');
      assert.equal(got.status, 200, got.text);
      return `Basic ${(got.body.authorizationData as Array<{ authorizationToken: string }>)[0]!.authorizationToken}`;
    };
    const byKey = await consoleLogin(user.keys);
    const byPassword = await consoleLogin({ accountId: ACCOUNT, userName: 'clicker', password: PASSWORD });
    assert.deepEqual([await tags(byKey), await tags(byPassword)], [OK, OK]);
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'clicker', AccessKeyId: user.keys.accessKeyId }));
    assert.deepEqual([await tags(byKey), await tags(byPassword)], [REFUSED, OK], 'a password session was minted with no key');
    await iam.send(new DeleteLoginProfileCommand({ UserName: 'clicker' }));
    await iam.send(new DetachUserPolicyCommand({ UserName: 'clicker', PolicyArn: `${MANAGED}ReadOnly` }));
    await iam.send(new DeleteUserCommand({ UserName: 'clicker' }));
    assert.deepEqual(await tags(byPassword), REFUSED, 'it ends with its user');
  });
});

const allowReads = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:ListImages', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: '*' }],
};
