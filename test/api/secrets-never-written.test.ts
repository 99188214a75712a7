/**
 * No secret is ever written: every credential-bearing request Berth takes, made by real clients
 * (the AWS SDKs, the console API as a browser calls it, /token and /v2 over HTTP), and then the
 * server's debug log, its access-log file, its audit-log file and the audit store (read back with
 * LookupEvents) are searched for each secret used. Two in-process Berths: the second is the
 * pull-through upstream the first reaches with credentials from a Secrets Manager secret, and
 * refuses them, so the upstream credential crosses both servers.
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { CreatePullThroughCacheRuleCommand, CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateConnectionCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  IAMClient,
  UpdateLoginProfileCommand,
} from '@aws-sdk/client-iam';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { MANAGED } from '../e2e/helpers/iam-users.js';
import { request } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

/** A secret no other text could contain by chance. */
const fresh = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;
const loginOf = (authorizationToken: string) => Buffer.from(authorizationToken, 'base64').toString().replace(/^AWS:/, '');

describe('no secret in any log, audit record or audit file', () => {
  let berth: BerthInProcess;
  let upstream: BerthInProcess;
  let admin: Credentials;
  /** Every secret a client used, by what it is: none may appear in anything either server wrote. */
  const secrets: Array<[string, string]> = [];
  const keep = (what: string, value: string) => {
    secrets.push([what, value]);
    return value;
  };
  const env = (name: string) => ({
    BERTH_LOG_LEVEL: 'debug',
    BERTH_ACCESS_LOG: join(process.env.TMPDIR ?? '/tmp', `${name}-${process.pid}-access.log`),
    BERTH_AUDIT_LOG: join(process.env.TMPDIR ?? '/tmp', `${name}-${process.pid}-audit.log`),
  });
  const client = (b: BerthInProcess, credentials: Credentials & { sessionToken?: string }) => ({
    endpoint: b.url,
    region: b.region,
    credentials,
    maxAttempts: 1,
  });

  before(async () => {
    [berth, upstream] = await Promise.all([startInProcess({ env: env('berth-secrets') }), startInProcess({ env: env('berth-secrets-up') })]);
    admin = adminCredentials(berth);
    keep('admin secret key', admin.secretAccessKey);
    keep('admin login', loginOf(berth.authorization.replace(/^Basic /, '')));
    keep('admin Basic credentials', berth.authorization.replace(/^Basic /, ''));
    keep('upstream admin login', loginOf(upstream.authorization.replace(/^Basic /, '')));
  });
  after(async () => {
    await berth?.cleanup();
    await upstream?.cleanup();
  });

  it('keeps passwords, keys and session tokens out, through IAM, STS and the console', async () => {
    const iam = new IAMClient(client(berth, admin));
    await iam.send(new CreateUserCommand({ UserName: 'leaky' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'leaky', PolicyArn: `${MANAGED}PowerUser` }));
    const first = keep('first password', fresh('First-Pw-1'));
    await iam.send(new CreateLoginProfileCommand({ UserName: 'leaky', Password: first, PasswordResetRequired: true }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'leaky' }))).AccessKey!;
    const user = { accessKeyId: key.AccessKeyId!, secretAccessKey: keep('user secret key', key.SecretAccessKey!) };

    // Console sign-ins: a wrong password, the forced change, keys, temporary credentials.
    const wrong = keep('mistyped password', fresh('Wrong-Pw-2'));
    assert.equal((await new ConsoleBrowser(berth.url).signIn({ accountId: '000000000000', userName: 'leaky', password: wrong })).status, 401);
    const second = keep('changed password', fresh('Second-Pw-3'));
    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn({ accountId: '000000000000', userName: 'leaky', password: first, newPassword: second })).status, 200);
    const third = keep('console ChangePassword', fresh('Third-Pw-4'));
    assert.equal((await b.iam({ Action: 'ChangePassword', OldPassword: second, NewPassword: third })).status, 200);
    const refusedChange = await b.iam({ Action: 'ChangePassword', OldPassword: keep('wrong old password', fresh('Old-Pw-5')), NewPassword: fresh('New-Pw-6') });
    assert.equal(refusedChange.status, 403);
    await iam.send(new UpdateLoginProfileCommand({ UserName: 'leaky', Password: keep('admin-set password', fresh('Reset-Pw-7')) }));
    keep('console session cookie', b.cookie!.split('=')[1]!);
    keep('console CSRF token', b.csrf!);
    assert.equal((await new ConsoleBrowser(berth.url).signIn(user)).status, 200);
    assert.equal((await new ConsoleBrowser(berth.url).signIn({ ...user, secretAccessKey: keep('wrong secret key', fresh('wrongSecret')) })).status, 401);

    const session = (await new STSClient(client(berth, user)).send(new GetSessionTokenCommand({}))).Credentials!;
    const temporary = {
      accessKeyId: session.AccessKeyId!,
      secretAccessKey: keep('temporary secret key', session.SecretAccessKey!),
      sessionToken: keep('session token', session.SessionToken!),
    };
    const t = new ConsoleBrowser(berth.url);
    assert.equal((await t.signIn(temporary)).status, 200);
    assert.equal((await t.ecr('DescribeRepositories')).status, 200);
    await ecrClient(berth, temporary).send(new DescribeRepositoriesCommand({}));
  });

  it('keeps login tokens, Bearer tokens and Basic credentials out, through /token and /v2', async () => {
    const ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'secrets/app' }));
    const authorizationToken = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    keep('login token', loginOf(authorizationToken));
    keep('Basic credentials', authorizationToken);
    const got = await request(`${berth.url}/token?service=${berth.host}&scope=repository:secrets/app:pull`, {
      headers: { Authorization: `Basic ${authorizationToken}` },
    });
    assert.equal(got.status, 200);
    const bearer = keep('Bearer token', (JSON.parse(got.body.toString()) as { token: string }).token);
    const form = await request(`${berth.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'AWS', password: loginOf(authorizationToken), service: berth.host }),
    });
    assert.equal(form.status, 200);
    keep('OAuth-form Bearer token', (JSON.parse(form.body.toString()) as { token: string }).token);
    const wrongLogin = keep('wrong login', fresh('notALoginToken'));
    const refused = await request(`${berth.url}/token`, { headers: { Authorization: `Basic ${Buffer.from(`AWS:${wrongLogin}`).toString('base64')}` } });
    assert.equal(refused.status, 401);
    const refusedForm = await request(`${berth.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'AWS', password: keep('wrong form password', fresh('notAFormToken')) }),
    });
    assert.equal(refusedForm.status, 401);
    assert.equal((await request(`${berth.url}/v2/secrets/app/tags/list`, { headers: { Authorization: `Bearer ${bearer}` } })).status, 200);
    const altered = keep('altered Bearer token', `${bearer.slice(0, -4)}AAAA`);
    assert.equal((await request(`${berth.url}/v2/secrets/app/tags/list`, { headers: { Authorization: `Bearer ${altered}` } })).status, 401);
    assert.equal((await request(`${berth.url}/v2/secrets/app/tags/list`, { headers: { Authorization: `Basic ${authorizationToken}` } })).status, 200);
  });

  it('keeps Secrets Manager values, KMS plaintexts and connection credentials out', async () => {
    const sm = new SecretsManagerClient(client(berth, admin));
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: keep('secret string', fresh('SecretString')) }));
    await sm.send(new PutSecretValueCommand({ SecretId: created.ARN!, SecretString: keep('second secret string', fresh('PutSecretValue')) }));
    const binary = keep('secret binary', fresh('SecretBinary'));
    await sm.send(new CreateSecretCommand({ Name: 'app/bin', SecretBinary: Buffer.from(binary) }));
    keep('secret binary as base64', Buffer.from(binary).toString('base64'));
    assert.ok((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString);
    // Refused for its name: the value it carried is not written either.
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: keep('refused secret string', fresh('RefusedValue')) })));

    const kms = new KMSClient(client(berth, admin));
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const plaintext = keep('KMS plaintext', fresh('Plaintext'));
    keep('KMS plaintext as base64', Buffer.from(plaintext).toString('base64'));
    const sealed = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext) }));
    await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob! }));
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    keep('data key plaintext', Buffer.from(dataKey.Plaintext!).toString('base64'));

    const events = new EventBridgeClient(client(berth, admin));
    await events.send(
      new CreateConnectionCommand({
        Name: 'hook-basic',
        AuthorizationType: 'BASIC',
        AuthParameters: { BasicAuthParameters: { Username: 'hook', Password: keep('connection password', fresh('ConnPw')) } },
      }),
    );
    await events.send(
      new CreateConnectionCommand({
        Name: 'hook-key',
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'x-api-key', ApiKeyValue: keep('connection API key', fresh('ApiKey')) } },
      }),
    );
  });

  it('keeps an upstream credential out, on the cache and on the upstream that refuses it', async () => {
    await ecrClient(upstream).send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    const upstreamPassword = keep('upstream credential', fresh('UpstreamToken'));
    const sm = new SecretsManagerClient(client(berth, admin));
    const secret = await sm.send(
      new CreateSecretCommand({ Name: 'ecr-pullthroughcache/up', SecretString: JSON.stringify({ username: 'AWS', accessToken: upstreamPassword }) }),
    );
    keep('upstream Basic credentials', Buffer.from(`AWS:${upstreamPassword}`).toString('base64'));
    await ecrClient(berth).send(
      new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'up', upstreamRegistryUrl: upstream.url, credentialArn: secret.ARN }),
    );
    const pulled = await request(`${berth.url}/v2/up/team/app/manifests/v1`, { headers: { Authorization: berth.authorization } });
    assert.equal(pulled.status, 502, pulled.body.toString());
  });

  it('wrote none of them: not in either server’s debug log, access log, audit log or audit store', async () => {
    assert.ok(secrets.length >= 30, `the tests above collected their secrets (${secrets.length})`);
    for (const b of [berth, upstream]) {
      const trail = new CloudTrailClient(client(b, adminCredentials(b)));
      const records: string[] = [];
      let NextToken: string | undefined;
      do {
        const page = await trail.send(new LookupEventsCommand({ MaxResults: 50, ...(NextToken && { NextToken }) }));
        for (const e of page.Events ?? []) records.push(e.CloudTrailEvent ?? '');
        NextToken = page.NextToken;
      } while (NextToken);
      assert.ok(records.length > 0, 'the audit store holds records');
      const files = env(b === berth ? 'berth-secrets' : 'berth-secrets-up');
      // Both files are written in batches: wait until the audit file holds as many records as the store.
      const auditFile = await waitFor('the audit file', async () => {
        const text = await readFile(files.BERTH_AUDIT_LOG, 'utf8').catch(() => '');
        return text.split('\n').filter((l) => l !== '').length >= records.length && text;
      });
      const everything = [b.output(), await readFile(files.BERTH_ACCESS_LOG, 'utf8'), auditFile, records.join('\n')].join('\n');
      assert.match(b.output(), /"level":20/, 'the log is at debug level');
      for (const [what, value] of secrets) assert.ok(!everything.includes(value), `the ${what} appears in what ${b.url} wrote`);
      assert.doesNotMatch(everything, /AWS4-HMAC-SHA256|(?:Basic|Bearer) [A-Za-z0-9+/=._-]{16,}/, 'no Authorization header value');
    }
  });
});
