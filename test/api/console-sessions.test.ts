/**
 * The web console's API (docs/console-api.md) as a browser uses it, over real HTTP against the
 * in-process app: sign-in with keys, temporary credentials or a console password; the cookie's
 * attributes; one answer for any wrong credential; CSRF; calls authorized as the principal
 * (a ReadOnly user cannot delete); sessions that end at sign-out, at expiry, when idle, and
 * when the key or user they stand for goes; the forced password change; the sign-in throttle.
 * Time is the app's clock, moved by the test.
 */
import assert from 'node:assert/strict';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import {
  AttachUserPolicyCommand,
  ChangePasswordCommand,
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteLoginProfileCommand,
  DeleteRoleCommand,
  DeleteUserCommand,
  IAMClient,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
  UpdateLoginProfileCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/core/clock.js';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { MANAGED } from '../e2e/helpers/iam-users.js';
import { pushBlob } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

const HOUR = 3_600_000;
const PASSWORD = 'Correct-Horse-9';

describe('the console API', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  let iam: IAMClient;
  const clock = new ShiftedClock();
  const browser = () => new ConsoleBrowser(berth.url);

  /** A user with the given managed policies (suffixes of MANAGED), its key, and optionally a console password. */
  async function user(name: string, managed: string[], password?: { value: string; reset?: boolean }): Promise<Credentials> {
    await iam.send(new CreateUserCommand({ UserName: name }));
    for (const m of managed) await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: MANAGED + m }));
    if (password) await iam.send(new CreateLoginProfileCommand({ UserName: name, Password: password.value, PasswordResetRequired: password.reset ?? false }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
  }

  before(async () => {
    berth = await startInProcess({ clock });
    admin = adminCredentials(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it('signs in with an access key: an HttpOnly SameSite=Strict cookie on /console, a CSRF token, the principal; no secret comes back', async () => {
    const b = browser();
    const signed = await b.signIn(admin);
    assert.equal(signed.status, 200, signed.text);
    assert.deepEqual(signed.body.principal, { arn: 'arn:aws:iam::000000000000:root', accountId: '000000000000', kind: 'root' });
    assert.equal(typeof signed.body.csrfToken, 'string');
    assert.deepEqual(signed.body.registry, { accountId: '000000000000', region: berth.region, host: berth.host, endpoint: berth.url });
    assert.ok(!signed.text.includes(admin.secretAccessKey));
    const cookie = b.setCookies[0]!;
    assert.match(cookie, /^berth_console=[A-Za-z0-9_-]{43}; /);
    const attributes = cookie.split('; ').slice(1).sort();
    assert.deepEqual(attributes, ['HttpOnly', 'Path=/console', 'SameSite=Strict'], 'no Secure over plain HTTP');
    assert.equal(signed.headers.get('cache-control'), 'no-store');
    assert.match(signed.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);

    const session = await b.session();
    assert.equal(session.status, 200);
    assert.equal(session.body.csrfToken, signed.body.csrfToken, 'the same token all session long');
    const created = await b.ecr('CreateRepository', { repositoryName: 'console/made' });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.headers.get('content-type'), 'application/x-amz-json-1.1', "ECR's answer as ECR sends it");
    assert.equal((created.body.repository as { repositoryName: string }).repositoryName, 'console/made');
    const missing = await b.ecr('DescribeRepositories', { repositoryNames: ['console/none'] });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.__type, 'RepositoryNotFoundException');
  });

  it('gives one answer for any wrong credential, and none says which part was wrong', async () => {
    const alice = await user('alice', [], { value: PASSWORD });
    await user('nopass', []);
    const wrong = [
      { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: admin.secretAccessKey },
      { accessKeyId: admin.accessKeyId, secretAccessKey: 'x'.repeat(40) },
      { accessKeyId: alice.accessKeyId, secretAccessKey: admin.secretAccessKey },
      { accessKeyId: 'ASIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x', sessionToken: 'not-a-token' },
      { accountId: '000000000000', userName: 'alice', password: 'Wrong-Horse-9' },
      { accountId: '000000000000', userName: 'nobody', password: PASSWORD },
      { accountId: '000000000000', userName: 'nopass', password: PASSWORD },
      { accountId: '111111111111', userName: 'alice', password: PASSWORD },
    ];
    const answers = [];
    for (const w of wrong) {
      const b = browser();
      const a = await b.signIn(w);
      answers.push({ status: a.status, text: a.text, cookie: b.cookie });
    }
    for (const a of answers) {
      assert.deepEqual(a, { status: 401, text: '{"__type":"InvalidCredentials","message":"The sign-in credentials are not valid."}', cookie: undefined });
    }
    assert.equal((await browser().signIn({ accountId: '000000000000', userName: 'alice', password: PASSWORD })).status, 200);
  });

  it('refuses a state-changing call without the right CSRF token, and changes nothing', async () => {
    const b = browser();
    await b.signIn(admin);
    // The last character changed to one it is not (a fixed 'A' equals the token one time in 64).
    const last = b.csrf!.endsWith('A') ? 'B' : 'A';
    for (const csrf of [false as const, 'x'.repeat(43), `${b.csrf!.slice(0, -1)}${last}`]) {
      const refused = await b.ecr('CreateRepository', { repositoryName: 'csrf/victim' }, { csrf });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.__type, 'InvalidCsrfToken');
    }
    const cross = await b.request('/console/api/ecr', {
      method: 'POST',
      headers: { Origin: 'https://evil.example', 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.CreateRepository' },
      body: JSON.stringify({ repositoryName: 'csrf/victim' }),
    });
    assert.equal(cross.status, 403, 'another origin is refused even with the token');
    const iamRefused = await b.iam({ Action: 'CreateUser', UserName: 'csrf-victim' }, { csrf: false });
    assert.equal(iamRefused.status, 403);
    await assert.rejects(ecrClient(berth).send(new DescribeRepositoriesCommand({ repositoryNames: ['csrf/victim'] })), RepositoryNotFoundException);
    const users = await b.iam({ Action: 'ListUsers' });
    assert.ok(!(users.body.Users as Array<{ UserName: string }>).some((u) => u.UserName === 'csrf-victim'));
  });

  it("authorizes a call as the principal's: a ReadOnly user may list but not delete, and `can` says so", async () => {
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'kept/web' }));
    const reader = await user('reader', ['ReadOnly'], { value: PASSWORD });
    const b = browser();
    assert.equal((await b.signIn({ accountId: '000000000000', userName: 'reader', password: PASSWORD })).status, 200);
    const listed = await b.ecr('DescribeRepositories');
    assert.equal(listed.status, 200);
    const deleted = await b.ecr('DeleteRepository', { repositoryName: 'kept/web' });
    assert.equal(deleted.status, 400);
    assert.equal(deleted.body.__type, 'AccessDeniedException');
    assert.match(String(deleted.body.message), /arn:aws:iam::000000000000:user\/reader is not authorized to perform: ecr:DeleteRepository/);
    await ecrClient(berth).send(new DescribeRepositoriesCommand({ repositoryNames: ['kept/web'] }));
    const users = await b.iam({ Action: 'ListUsers' });
    assert.equal(users.status, 403);
    assert.equal(users.body.__type, 'AccessDenied');
    const answers = await b.can([
      { action: 'ecr:DeleteRepository', resource: 'kept/web' },
      { action: 'ecr:DescribeImages', resource: 'kept/web' },
      { action: 'ecr:CreateRepository' },
      { action: 'iam:ListUsers' },
    ]);
    assert.deepEqual(
      (answers.body.results as Array<{ allowed: boolean }>).map((r) => r.allowed),
      [false, true, false, false],
    );
    // The same user signed in with its key is the same principal, refused alike.
    const byKey = browser();
    assert.equal((await byKey.signIn(reader)).status, 200);
    assert.equal((await byKey.ecr('DeleteRepository', { repositoryName: 'kept/web' })).body.__type, 'AccessDeniedException');
  });

  it('runs IAM actions as the principal, answered as JSON', async () => {
    const b = browser();
    await b.signIn(admin);
    const created = await b.iam({ Action: 'CreateUser', UserName: 'json-user' });
    assert.equal(created.status, 200, created.text);
    const u = created.body.User as Record<string, unknown>;
    assert.equal(u.Arn, 'arn:aws:iam::000000000000:user/json-user');
    assert.match(String(u.CreateDate), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(await b.iam({ Action: 'AttachUserPolicy', UserName: 'json-user', PolicyArn: `${MANAGED}ReadOnly` }).then((a) => [a.status, a.body]), [
      200,
      {},
    ]);
    const attached = await b.iam({ Action: 'ListAttachedUserPolicies', UserName: 'json-user' });
    assert.deepEqual(attached.body, {
      AttachedPolicies: [{ PolicyName: 'AmazonEC2ContainerRegistryReadOnly', PolicyArn: `${MANAGED}ReadOnly` }],
      IsTruncated: false,
    });
    const policies = await b.iam({ Action: 'ListPolicies' });
    assert.ok((policies.body.Policies as Array<{ Arn: string }>).some((p) => p.Arn === `${MANAGED}FullAccess`));
    const missing = await b.iam({ Action: 'GetUser', UserName: 'nobody' });
    assert.deepEqual([missing.status, missing.body.__type], [404, 'NoSuchEntity']);
    const profile = await b.iam({ Action: 'CreateLoginProfile', UserName: 'json-user', Password: 'short' });
    assert.deepEqual([profile.status, profile.body.__type], [400, 'PasswordPolicyViolation']);
  });

  it('ends a session at sign-out: the old cookie opens nothing', async () => {
    const b = browser();
    await b.signIn(admin);
    const cookie = b.cookie;
    const forged = await b.request('/console/api/sign-out', { method: 'POST', csrf: false });
    assert.deepEqual([forged.status, forged.body.__type], [403, 'InvalidCsrfToken'], 'no other site can sign a browser out');
    assert.equal((await b.session()).status, 200);
    assert.equal((await b.signOut()).status, 204);
    assert.equal(b.cookie, undefined, 'the cookie is cleared');
    b.cookie = cookie;
    const after = await b.session();
    assert.deepEqual([after.status, after.body.__type], [401, 'NotSignedIn']);
    assert.equal((await b.ecr('DescribeRepositories')).status, 401);
  });

  it('never takes a session id from the client: a fixed cookie is replaced at sign-in and opens nothing', async () => {
    const b = browser();
    await b.signIn(admin);
    const name = b.cookie!.split('=')[0]!;
    const planted = `${name}=${'A'.repeat(43)}`;
    const victim = browser();
    victim.cookie = planted;
    assert.equal((await victim.session()).status, 401, 'an id Berth never issued opens nothing');
    assert.equal((await victim.signIn(admin)).status, 200);
    assert.notEqual(victim.cookie, planted, 'sign-in sets an id of its own');
    const attacker = browser();
    attacker.cookie = planted;
    assert.deepEqual([(await attacker.session()).status, (await attacker.ecr('DescribeRepositories')).status], [401, 401]);
  });

  it('ends a session when its access key is deactivated, or its user deleted', async () => {
    const keyed = await user('keyed', ['FullAccess'], { value: PASSWORD });
    const byKey = browser();
    const byPassword = browser();
    assert.equal((await byKey.signIn(keyed)).status, 200);
    assert.equal((await byPassword.signIn({ accountId: '000000000000', userName: 'keyed', password: PASSWORD })).status, 200);
    assert.equal((await byKey.ecr('DescribeRepositories')).status, 200);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: keyed.accessKeyId, Status: 'Inactive' }));
    assert.equal((await byKey.ecr('DescribeRepositories')).status, 401, 'a deactivated key ends its sessions at their next call');
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: keyed.accessKeyId, Status: 'Active' }));
    assert.equal((await byKey.session()).status, 401, 'and for good: reactivating the key does not bring it back');

    assert.equal((await byPassword.session()).status, 200);
    await iam.send(new DeleteLoginProfileCommand({ UserName: 'keyed' }));
    assert.equal((await byPassword.session()).status, 401, 'a password session ends with the password');
  });

  it('ends a password session when its user is deleted and made again (another user of the same name)', async () => {
    await user('again', [], { value: PASSWORD });
    const b = browser();
    assert.equal((await b.signIn({ accountId: '000000000000', userName: 'again', password: PASSWORD })).status, 200);
    // Strip the user as IAM requires, delete it, make it again with the same password.
    const adminB = browser();
    await adminB.signIn(admin);
    const listed = await adminB.iam({ Action: 'ListAccessKeys', UserName: 'again' });
    for (const k of listed.body.AccessKeyMetadata as Array<{ AccessKeyId: string }>) {
      await adminB.iam({ Action: 'DeleteAccessKey', UserName: 'again', AccessKeyId: k.AccessKeyId });
    }
    const conflict = await adminB.iam({ Action: 'DeleteUser', UserName: 'again' });
    assert.deepEqual([conflict.status, conflict.body.__type], [409, 'DeleteConflict'], 'a user with a console password is not deleted');
    await adminB.iam({ Action: 'DeleteLoginProfile', UserName: 'again' });
    await iam.send(new DeleteUserCommand({ UserName: 'again' }));
    await user('again', [], { value: PASSWORD });
    assert.equal((await b.session()).status, 401);
  });

  it("ends a user's password sessions when the password is changed; the session that changed it, and key sessions, go on", async () => {
    const keys = await user('changer', ['ReadOnly'], { value: PASSWORD });
    const creds = { accountId: '000000000000', userName: 'changer', password: PASSWORD };
    const [changer, thief, byKey] = [browser(), browser(), browser()];
    for (const [b, c] of [
      [changer, creds],
      [thief, creds],
      [byKey, keys],
    ] as const)
      assert.equal((await b.signIn(c)).status, 200);
    // The user changes a password someone else learnt: the other sign-in ends, the user's own goes on.
    const own = await changer.iam({ Action: 'ChangePassword', OldPassword: PASSWORD, NewPassword: 'Second-Try-55' });
    assert.deepEqual([own.status, own.body], [200, {}]);
    assert.equal((await thief.session()).status, 401, 'a session signed in with the old password ends');
    assert.equal((await thief.ecr('DescribeRepositories')).status, 401);
    assert.equal((await changer.session()).status, 200, 'the session that changed it goes on');
    assert.equal((await changer.ecr('DescribeRepositories')).status, 200);
    assert.equal((await byKey.session()).status, 200, 'a session signed in with an access key does not stand on the password');

    // An administrator sets a new password (UpdateLoginProfile): every password session of the user ends.
    const again = browser();
    assert.equal((await again.signIn({ ...creds, password: 'Second-Try-55' })).status, 200);
    await iam.send(new UpdateLoginProfileCommand({ UserName: 'changer', Password: 'Third-Try-66' }));
    assert.equal((await changer.session()).status, 401);
    assert.equal((await again.session()).status, 401);
    assert.equal((await byKey.session()).status, 200);
    // Only the flag changed: the password is the same, and so are its sessions.
    const third = browser();
    assert.equal((await third.signIn({ ...creds, password: 'Third-Try-66' })).status, 200);
    await iam.send(new UpdateLoginProfileCommand({ UserName: 'changer', PasswordResetRequired: false }));
    assert.equal((await third.session()).status, 200);
  });

  it('ends a session 12 hours after sign-in, and after an hour without a call', async () => {
    const b = browser();
    await b.signIn(admin);
    const idle = browser();
    await idle.signIn(admin);
    try {
      for (let h = 0.5; h < 12; h += 0.5) {
        clock.offsetMs = h * HOUR;
        assert.equal((await b.session()).status, 200, `still open at ${h} h`);
      }
      assert.equal((await idle.session()).status, 401, 'idle for hours');
      clock.offsetMs = 12 * HOUR;
      assert.equal((await b.session()).status, 401, 'over at 12 h, however busy');
    } finally {
      clock.offsetMs = 0;
    }
  });

  it('signs in with temporary credentials (a session token) as the user they stand for', async () => {
    const temp = await user('temp', ['ReadOnly']);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: temp, maxAttempts: 1 });
    const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    const b = browser();
    const signed = await b.signIn({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    assert.equal(signed.status, 200, signed.text);
    assert.equal((signed.body.principal as { arn: string }).arn, 'arn:aws:iam::000000000000:user/temp');
    assert.ok(new Date(String(signed.body.expiresAt)) <= c.Expiration!, 'no longer than the credentials');
    const wrongToken = await browser().signIn({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: `${c.SessionToken!}x` });
    assert.equal(wrongToken.status, 401);
    try {
      clock.offsetMs = 901_000;
      assert.equal((await b.session()).status, 401, 'over when the credentials expire');
    } finally {
      clock.offsetMs = 0;
    }
  });

  it("ends a session signed in with a role session's credentials when the role is deleted, and a role made again under the name does not revive it", async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'sts:AssumeRole' }] };
    const makeRole = () => iam.send(new CreateRoleCommand({ RoleName: 'console-role', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await makeRole();
    const assumer = await user('assumer', []);
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'assumer',
        PolicyName: 'assume',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }),
      }),
    );
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer, maxAttempts: 1 });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/console-role', RoleSessionName: 'web' }))).Credentials!;
    const b = browser();
    assert.equal((await b.signIn({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! })).status, 200);
    assert.equal((await b.session()).status, 200);
    await iam.send(new DeleteRoleCommand({ RoleName: 'console-role' }));
    await makeRole();
    assert.equal((await b.session()).status, 401);
  });

  it('makes a password marked for reset be changed at sign-in, then signs in with the new one', async () => {
    await user('fresh', [], { value: PASSWORD, reset: true });
    const creds = { accountId: '000000000000', userName: 'fresh', password: PASSWORD };
    const asked = await browser().signIn(creds);
    assert.deepEqual([asked.status, asked.body.__type], [403, 'PasswordResetRequired']);
    const weak = await browser().signIn({ ...creds, newPassword: 'weak' });
    assert.deepEqual([weak.status, weak.body.__type], [400, 'PasswordPolicyViolation']);
    const same = await browser().signIn({ ...creds, newPassword: PASSWORD });
    assert.equal(same.status, 400, 'the new password must differ');
    const b = browser();
    const changed = await b.signIn({ ...creds, newPassword: 'Fresh-Start-42' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await browser().signIn(creds)).status, 401, 'the old password is gone');
    assert.equal((await browser().signIn({ ...creds, password: 'Fresh-Start-42' })).status, 200, 'and no reset is asked again');
    // ChangePassword through the console, as the user, without any policy.
    const own = await b.iam({ Action: 'ChangePassword', OldPassword: 'Fresh-Start-42', NewPassword: 'Third-Time-77' });
    assert.deepEqual([own.status, own.body], [200, {}]);
    const wrongOld = await b.iam({ Action: 'ChangePassword', OldPassword: 'Fresh-Start-42', NewPassword: 'Fourth-Time-88' });
    assert.deepEqual([wrongOld.status, wrongOld.body.__type], [403, 'AccessDenied']);
    assert.equal((await browser().signIn({ ...creds, password: 'Third-Time-77' })).status, 200);
  });

  it('throttles failed sign-ins for an identity, however its name is cased: then even the right password is refused, with Retry-After', async () => {
    await user('guessed', [], { value: PASSWORD });
    const creds = { accountId: '000000000000', userName: 'guessed', password: PASSWORD };
    // Each guess under another casing of the name: IAM names are one in any case, and so is their
    // bucket (each casing had ten guesses of its own before session 37).
    const casings = ['guessed', 'Guessed', 'gUessed', 'guEssed', 'gueSsed', 'guesSed', 'guessEd', 'guesseD', 'GUessed', 'GUESSED'];
    const statuses: number[] = [];
    for (const [i, userName] of casings.entries()) statuses.push((await browser().signIn({ ...creds, userName, password: `Wrong-Guess-${i}` })).status);
    assert.deepEqual(new Set(statuses), new Set([401]));
    for (const userName of ['guessed', 'GuEsSeD']) {
      const throttled = await browser().signIn({ ...creds, userName });
      assert.deepEqual([throttled.status, throttled.body.__type], [429, 'ThrottlingException'], userName);
      assert.ok(Number(throttled.headers.get('retry-after')) > 0);
    }
    assert.equal((await browser().signIn(admin)).status, 200, 'other identities are not held up');
  });

  it("throttles guesses at a password through ChangePassword's OldPassword, in the same bucket as sign-in", async () => {
    const keys = await user('changeling', [], { value: PASSWORD });
    const own = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: keys, maxAttempts: 1 });
    const change = (OldPassword: string) => own.send(new ChangePasswordCommand({ OldPassword, NewPassword: 'Never-Set-99' }));
    for (let i = 0; i < 10; i++) {
      await assert.rejects(change(`Wrong-Guess-${i}`), { name: 'AccessDenied', message: 'The old password is not correct.' });
    }
    // The right old password now waits too (it was taken before session 37: guesses were free).
    await assert.rejects(change(PASSWORD), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.deepEqual([e.name, e.message, e.$metadata?.httpStatusCode], ['Throttling', 'Too many wrong passwords: try again later.', 400]);
      return true;
    });
    const signIn = await browser().signIn({ accountId: '000000000000', userName: 'changeling', password: PASSWORD });
    assert.deepEqual([signIn.status, signIn.body.__type], [429, 'ThrottlingException'], 'the same bucket as sign-in');
    assert.equal((await browser().signIn({ accountId: '000000000000', userName: 'changeling', password: 'Never-Set-99' })).status, 429);
  });

  it('reports storage and transfer per repository per day, only of repositories the principal may describe', async () => {
    const ecr = ecrClient(berth);
    for (const name of ['usage/web', 'usage/hidden']) {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
      assert.equal((await pushBlob(berth.url, name, Buffer.alloc(3000, name))).status, 201);
    }
    await waitFor('a storage sample', () => berth.app.tasks.find((t) => t.name === 'usage-sample')!.tick());
    const adminB = browser();
    await adminB.signIn(admin);
    type Usage = {
      from: string;
      to: string;
      repositories: Array<{ repositoryName: string; days: Array<{ date: string; storageBytes?: number; bytesIn: number }> }>;
    };
    const seen = await waitFor('the pushes in the usage rows', async () => {
      const u = (await adminB.request('/console/api/usage?days=7')).body as unknown as Usage;
      const names = u.repositories.filter((r) => r.days.some((d) => d.bytesIn >= 3000)).map((r) => r.repositoryName);
      return names.includes('usage/web') && names.includes('usage/hidden') ? u : undefined;
    });
    const web = seen.repositories.find((r) => r.repositoryName === 'usage/web')!;
    assert.equal(web.days.length, 1, 'one day of pushes');
    assert.equal(web.days[0]!.storageBytes, 3000, 'the sampled storage of the day');
    assert.ok(seen.from <= web.days[0]!.date && web.days[0]!.date < seen.to);

    await user('partial', [], { value: PASSWORD });
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'partial',
        PolicyName: 'web-only',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: 'arn:aws:ecr:*:*:repository/usage/web' }],
        }),
      }),
    );
    const partial = browser();
    await partial.signIn({ accountId: '000000000000', userName: 'partial', password: PASSWORD });
    const limited = (await partial.request('/console/api/usage?days=7')).body as unknown as Usage;
    assert.deepEqual(
      limited.repositories.map((r) => r.repositoryName),
      ['usage/web'],
    );
    assert.equal((await partial.request('/console/api/usage?days=0')).status, 400);

    // Judged with the request's own condition keys, as DescribeRepositories itself would be.
    await user('agent-bound', [], { value: PASSWORD });
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'agent-bound',
        PolicyName: 'no-scripts',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' },
            { Effect: 'Deny', Action: 'ecr:DescribeRepositories', Resource: '*', Condition: { StringLike: { 'aws:UserAgent': 'scraper/*' } } },
          ],
        }),
      }),
    );
    const bound = browser();
    await bound.signIn({ accountId: '000000000000', userName: 'agent-bound', password: PASSWORD });
    const names = async (userAgent: string) =>
      ((await bound.request('/console/api/usage?days=7', { headers: { 'user-agent': userAgent } })).body as unknown as Usage).repositories.map(
        (r) => r.repositoryName,
      );
    assert.deepEqual(await names('scraper/1.0'), [], 'the Deny on this User-Agent holds');
    assert.ok((await names('Mozilla/5.0')).includes('usage/hidden'));
    // `can` answers as the call itself would, with the same request's keys.
    const may = async (userAgent: string) =>
      (
        (
          await bound.request('/console/api/can', {
            method: 'POST',
            headers: { 'user-agent': userAgent, 'Content-Type': 'application/json' },
            body: JSON.stringify({ checks: [{ action: 'ecr:DescribeRepositories', resource: 'usage/hidden' }] }),
          })
        ).body.results as Array<{ allowed: boolean }>
      )[0]!.allowed;
    assert.equal(await may('scraper/1.0'), false);
    assert.equal(await may('Mozilla/5.0'), true);
  });

  it('refuses malformed sign-ins and unknown console API paths clearly', async () => {
    const b = browser();
    const notJson = await b.request('/console/api/sign-in', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
    assert.deepEqual([notJson.status, notJson.body.__type], [400, 'ValidationException']);
    const big = await b.request('/console/api/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accessKeyId: 'A', secretAccessKey: 'x'.repeat(20_000) }),
    });
    assert.deepEqual([big.status, big.body.__type], [400, 'ValidationException']);
    assert.equal((await b.request('/console/api/nothing')).status, 404);
    assert.equal((await b.request('/console/api/session', { method: 'POST' })).status, 405);
  });
});
