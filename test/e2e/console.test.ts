/**
 * The web console as `berth serve` runs it, with a tiny stand-in for the built app (the real
 * one is built by the console's own build): the files under /console/ with their headers, deep
 * links, no way out of the directory by any spelling of `..`, the page shown before the app is
 * built; IAM console passwords through the aws CLI (create, get, update, delete, change, and
 * their refusals), then a sign-in with one; and the audit trail's record of console calls.
 *
 * The CLI makes each login-profile operation once and one refusal, so botocore's view of each
 * shape stays checked; the other calls, and the waits for the trail (a lookup per probe), go
 * through the SDKs, other real clients, at a thousandth of a CLI process's CPU (~0.9 s each here).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import {
  AttachUserPolicyCommand,
  ChangePasswordCommand,
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  DeleteLoginProfileCommand,
  DeleteUserCommand,
  GetLoginProfileCommand,
  IAMClient,
  UpdateLoginProfileCommand,
} from '@aws-sdk/client-iam';
import { createCertificateAuthority, createServerCertificate } from '../../src/tls/dev-certificates.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { ConsoleBrowser } from './helpers/console-browser.js';
import { adminCredentials, awsCliEnv, type Credentials } from './helpers/ecr-client.js';
import { openRaw, write } from './helpers/raw-socket.js';
import { refusal } from './helpers/refusal.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const SECRET = 'the-file-outside-the-console-dir';
const INDEX = '<!doctype html><html><head><script type="module" src="/console/assets/app-Q2W3E4R5.js"></script></head><body></body></html>\n';

describe('the console served by berth serve', () => {
  let berth: BerthProcess;
  let root: string;
  let dir: string;
  let admin: Credentials;

  const iam = (creds: Credentials = admin) => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
  const aws = async (args: string[], creds: Credentials = admin): Promise<Record<string, unknown>> => {
    const { stdout } = await run('aws', [...args, '--output', 'json'], { env: awsCliEnv(berth, creds) });
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  };
  /** The CLI's stderr of a call that must fail. */
  const awsFails = async (args: string[], creds: Credentials = admin): Promise<string> => {
    try {
      await run('aws', args, { env: awsCliEnv(berth, creds) });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  /** A GET sent byte for byte as written: no client library normalizes the path first. */
  const raw = async (path: string): Promise<{ status: number; text: string }> => {
    const c = await openRaw(berth.port);
    await write(c.socket, `GET ${path} HTTP/1.1\r\nHost: ${berth.host}\r\nConnection: close\r\n\r\n`);
    await c.closed;
    const text = c.received();
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
  };

  before(async () => {
    root = await tempDir('berth-console-');
    dir = join(root, 'console');
    await mkdir(join(dir, 'assets'), { recursive: true });
    await writeFile(join(root, 'secret.txt'), SECRET);
    await writeFile(join(dir, 'assets', 'app-Q2W3E4R5.js'), 'document.title = "Berth";\n');
    await writeFile(join(dir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(dir, 'assets', '.hidden'), SECRET);
    await symlink(join(root, 'secret.txt'), join(dir, 'assets', 'linked.txt'));
    // index.html comes later: first the page of a console not built yet.
    berth = await startBerth({ args: ['--console-dir', dir] });
    admin = adminCredentials(berth);
  });
  after(async () => berth?.cleanup());

  it('says plainly that the console is not built, then serves it once it is, without a restart', async () => {
    const before = await fetch(`${berth.url}/console/`);
    assert.equal(before.status, 503);
    assert.match(await before.text(), /console has not been built/);
    await writeFile(join(dir, 'index.html'), INDEX);
    const page = await waitFor('the built index.html', async () => {
      const r = await fetch(`${berth.url}/console/`);
      return r.status === 200 ? r : undefined;
    });
    assert.equal(await page.text(), INDEX);
  });

  it('serves index.html for deep links, assets with their types and caching, and security headers on all', async () => {
    for (const path of ['/console/', '/console/repositories', '/console/repositories/team%2Fweb/images/sha256:abc']) {
      const r = await fetch(`${berth.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(await r.text(), INDEX, path);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      const csp = r.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self';/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    }
    const js = await fetch(`${berth.url}/console/assets/app-Q2W3E4R5.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'a hashed name is cached for good');
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await js.text(), 'document.title = "Berth";\n');
    const svg = await fetch(`${berth.url}/console/assets/logo.svg`);
    assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
    assert.equal(svg.headers.get('cache-control'), 'no-cache', 'an unhashed name may change');
    await svg.arrayBuffer();
    const head = await fetch(`${berth.url}/console/assets/app-Q2W3E4R5.js`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '26');
    assert.equal((await fetch(`${berth.url}/console/assets/missing-Q2W3E4R5.js`)).status, 404);
    assert.equal((await fetch(`${berth.url}/console/`, { method: 'POST' })).status, 405);
    const bare = await fetch(`${berth.url}/console`, { redirect: 'manual' });
    assert.deepEqual([bare.status, bare.headers.get('location')], [301, '/console/']);
    const browser = await fetch(`${berth.url}/`, { headers: { Accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    assert.deepEqual([browser.status, browser.headers.get('location')], [302, '/console/']);
    const api = await fetch(`${berth.url}/`);
    assert.equal(api.status, 404, 'a non-browser GET / is answered as before');
    await api.arrayBuffer();
  });

  it('never serves a file outside the console directory, nor a hidden file or a link, however the path is spelled', async () => {
    const paths = [
      '/console/assets/../../secret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/assets/%2E%2E/%2E%2E/secret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/assets/..%2F..%2Fsecret.txt',
      '/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/console/assets/..\\..\\secret.txt',
      '/console/assets/..%5c..%5csecret.txt',
      '/console/assets/%252e%252e/%252e%252e/secret.txt',
      '/console/assets/.hidden',
      '/console/assets/linked.txt',
      '/console/assets/app-Q2W3E4R5.js%00.txt',
      '/console/..%2fsecret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/assets/',
      '/console/assets//etc/passwd',
    ];
    for (const path of paths) {
      const r = await raw(path);
      assert.ok(!r.text.includes(SECRET), `${path} reached the file outside`);
      assert.ok(!r.text.includes('root:'), `${path} reached /etc/passwd`);
      if (path.startsWith('/console/assets/')) assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    }
  });

  it('manages console passwords with the aws CLI, with IAM shapes and refusals, and signs in with one', async () => {
    await iam().send(new CreateUserCommand({ UserName: 'carol' }));
    const created = (await aws(['iam', 'create-login-profile', '--user-name', 'carol', '--password', 'Carol-Pass-1', '--password-reset-required'])) as {
      LoginProfile: { UserName: string; CreateDate: string; PasswordResetRequired: boolean };
    };
    assert.equal(created.LoginProfile.UserName, 'carol');
    assert.equal(created.LoginProfile.PasswordResetRequired, true);
    assert.ok(!Number.isNaN(Date.parse(created.LoginProfile.CreateDate)));
    const got = (await aws(['iam', 'get-login-profile', '--user-name', 'carol'])) as { LoginProfile: { PasswordResetRequired: boolean } };
    assert.equal(got.LoginProfile.PasswordResetRequired, true);
    assert.match(await awsFails(['iam', 'create-login-profile', '--user-name', 'carol', '--password', 'Carol-Pass-2']), /EntityAlreadyExists/);
    // The other refusals through the SDK (they are the server's, whichever real client asks).
    const createProfile = (UserName: string, Password: string, creds?: Credentials) => iam(creds).send(new CreateLoginProfileCommand({ UserName, Password }));
    assert.match(await refusal(createProfile('nobody', 'Carol-Pass-2')), /NoSuchEntity/);
    await iam().send(new CreateUserCommand({ UserName: 'dave' }));
    assert.match(await refusal(createProfile('dave', 'short')), /PasswordPolicyViolation/);
    assert.match(await refusal(iam().send(new GetLoginProfileCommand({ UserName: 'dave' }))), /NoSuchEntity/, 'the refused password made no profile');
    assert.match(await refusal(iam().send(new DeleteLoginProfileCommand({ UserName: 'dave' }))), /NoSuchEntity/);
    assert.match(await refusal(iam().send(new DeleteUserCommand({ UserName: 'carol' }))), /DeleteConflict/);
    await aws(['iam', 'update-login-profile', '--user-name', 'carol', '--password', 'Carol-Pass-3', '--no-password-reset-required']);
    assert.equal((await iam().send(new GetLoginProfileCommand({ UserName: 'carol' }))).LoginProfile?.PasswordResetRequired, false);
    assert.match(await refusal(iam().send(new UpdateLoginProfileCommand({ UserName: 'dave', Password: 'Dave-Pass-33' }))), /NoSuchEntity/);
    assert.match(await refusal(iam().send(new ChangePasswordCommand({ OldPassword: 'x', NewPassword: 'Root-Pass-44' }))), /InvalidUserType/);

    // A user with ReadOnly may not manage passwords (iam:CreateLoginProfile), but may change its own.
    await iam().send(new AttachUserPolicyCommand({ UserName: 'carol', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly' }));
    const key = (await iam().send(new CreateAccessKeyCommand({ UserName: 'carol' }))).AccessKey!;
    const carol = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    assert.match(await refusal(createProfile('dave', 'Dave-Pass-33', carol)), /AccessDenied/);
    assert.match(await refusal(iam(carol).send(new ChangePasswordCommand({ OldPassword: 'Wrong-Pass-3', NewPassword: 'Carol-Pass-4' }))), /AccessDenied/);
    await aws(['iam', 'change-password', '--old-password', 'Carol-Pass-3', '--new-password', 'Carol-Pass-4'], carol);

    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn({ accountId: '000000000000', userName: 'carol', password: 'Carol-Pass-3' })).status, 401);
    const signed = await b.signIn({ accountId: '000000000000', userName: 'carol', password: 'Carol-Pass-4' });
    assert.equal(signed.status, 200, signed.text);
    assert.equal((signed.body.principal as { arn: string }).arn, 'arn:aws:iam::000000000000:user/carol');
    const denied = await b.ecr('CreateRepository', { repositoryName: 'carol/refused' });
    assert.equal(denied.body.__type, 'AccessDeniedException');

    await aws(['iam', 'delete-login-profile', '--user-name', 'carol']);
    assert.match(await refusal(iam().send(new GetLoginProfileCommand({ UserName: 'carol' }))), /NoSuchEntity/);
    assert.equal((await b.session()).status, 401, 'the password gone, its session is over');
  });

  it('records console calls in the audit trail as the actions they are, by the signed-in principal', async () => {
    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn(admin)).status, 200);
    assert.equal((await b.ecr('CreateRepository', { repositoryName: 'audited/by-console' })).status, 200);
    assert.equal((await b.iam({ Action: 'CreateUser', UserName: 'audited-user' })).status, 200);
    const trail = new CloudTrailClient({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });
    /** Every page (the trail holds fewer than a page's 50 of each name here; followed all the same). */
    const lookup = async (name: string) => {
      const records: Array<{ eventSource: string; requestParameters: Record<string, unknown> | null; userIdentity: { arn: string } }> = [];
      let NextToken: string | undefined;
      do {
        const page = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: name }], NextToken }));
        for (const e of page.Events ?? []) records.push(JSON.parse(e.CloudTrailEvent!) as (typeof records)[number]);
        NextToken = page.NextToken;
      } while (NextToken);
      return records;
    };
    const repo = await waitFor('the CreateRepository record', async () =>
      (await lookup('CreateRepository')).find((e) => e.requestParameters?.repositoryName === 'audited/by-console'),
    );
    assert.equal(repo.eventSource, 'ecr.amazonaws.com');
    assert.equal(repo.userIdentity.arn, 'arn:aws:iam::000000000000:root');
    const user = await waitFor('the CreateUser record', async () => (await lookup('CreateUser')).find((e) => e.requestParameters?.userName === 'audited-user'));
    assert.equal(user.eventSource, 'iam.amazonaws.com');
    const login = await waitFor('a ConsoleLogin record', async () => (await lookup('ConsoleLogin'))[0]);
    assert.equal(login.eventSource, 'signin.amazonaws.com');
    const text = JSON.stringify(await lookup('ChangePassword'));
    assert.ok(!text.includes('Carol-Pass'), 'passwords are never in the trail');
  });
});

describe('the console over TLS', () => {
  let berth: BerthProcess;
  let work: string;

  before(async () => {
    work = await tempDir('berth-console-tls-');
    const ca = createCertificateAuthority();
    const server = createServerCertificate(ca, ['127.0.0.1']);
    await writeFile(join(work, 'ca.crt'), ca.cert);
    await writeFile(join(work, 'server.crt'), server.cert);
    await writeFile(join(work, 'server.key'), server.key);
    berth = await startBerth({ ca: join(work, 'ca.crt'), args: ['--tls-cert', join(work, 'server.crt'), '--tls-key', join(work, 'server.key')] });
  });
  after(async () => {
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('marks the session cookie Secure', async () => {
    const body = JSON.stringify(adminCredentials(berth));
    const answer = await new Promise<{ status: number; cookies: string[]; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        `${berth.url}/console/api/sign-in`,
        {
          method: 'POST',
          ca: readFileSync(join(work, 'ca.crt')),
          agent: false,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [], text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.cookies.length, 1);
    assert.deepEqual(answer.cookies[0]!.split('; ').slice(1).sort(), ['HttpOnly', 'Path=/console', 'SameSite=Strict', 'Secure']);
    assert.equal((JSON.parse(answer.text) as { registry: { endpoint: string } }).registry.endpoint, berth.url);
  });
});
