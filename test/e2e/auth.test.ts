/**
 * Authentication end to end with real clients: the bootstrap admin key, SigV4 on the ECR, IAM
 * and STS APIs (AWS SDK and AWS CLI), users and access keys managed with `aws iam`, and the
 * 12-hour login token used as HTTP Basic credentials on /v2 (curl-style fetch and skopeo).
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';

const run = promisify(execFile);

describe('authentication', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth();
  });
  after(async () => berth?.cleanup());

  it('writes the admin key once, owner-only, in shared-credentials format', async () => {
    const path = join(berth.dataDir, 'admin-credentials');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const creds = adminCredentials(berth);
    assert.match(creds.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(creds.secretAccessKey.length, 40);
    assert.ok(!berth.output().includes(creds.secretAccessKey), 'the secret is never logged');
    const sts = new STSClient({ endpoint: berth.url, region: 'us-east-1', credentials: creds });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:iam::000000000000:root');
    assert.equal(me.Account, '000000000000');
  });

  it('refuses a wrong secret, an unknown key and an unsigned request', async () => {
    const { accessKeyId } = adminCredentials(berth);
    await assert.rejects(ecrClient(berth, { accessKeyId, secretAccessKey: 'x'.repeat(40) }).send(new DescribeRepositoriesCommand({})), {
      name: 'InvalidSignatureException',
    });
    await assert.rejects(ecrClient(berth, { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) }).send(new DescribeRepositoriesCommand({})), {
      name: 'UnrecognizedClientException',
    });
    const r = await fetch(berth.url + '/', {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
  });

  it('manages users and keys with aws iam, and a user key signs ECR calls', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth) });
    await iam.send(new CreateUserCommand({ UserName: 'ci' }));
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'ci' })), { name: 'EntityAlreadyExistsException' });
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'ci' }));
    const users = await iam.send(new ListUsersCommand({}));
    assert.deepEqual(
      users.Users?.map((u) => u.Arn),
      ['arn:aws:iam::000000000000:user/ci'],
    );
    const userCreds = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
    const sts = new STSClient({ endpoint: berth.url, region: 'us-east-1', credentials: userCreds });
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, 'arn:aws:iam::000000000000:user/ci');
    // Only the account root manages identities for now.
    const userIam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: userCreds });
    await assert.rejects(userIam.send(new CreateUserCommand({ UserName: 'eve' })), (e: Error) => /AccessDenied/.test(e.name));

    const env = awsCliEnv(berth);
    const { stdout } = await run('aws', ['iam', 'list-users', '--query', 'Users[].UserName', '--output', 'text'], { env });
    assert.equal(stdout.trim(), 'ci');
  });

  it('answers anonymous /v2 requests with 401 and a Bearer challenge naming the token endpoint: private by default', async () => {
    const challenge = (scope: string) => `Bearer realm="${berth.url}/token",service="${berth.host}"${scope}`;
    for (const [path, scope] of [
      ['/v2/', ''],
      ['/v2/_catalog', ',scope="registry:catalog:*"'],
      ['/v2/auth/app/tags/list', ',scope="repository:auth/app:pull"'],
      ['/v2/x/y/manifests/latest', ',scope="repository:x/y:pull"'],
    ] as const) {
      const r = await fetch(berth.url + path);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers.get('www-authenticate'), challenge(scope));
      assert.equal(((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNAUTHORIZED');
    }
    const up = await fetch(berth.url + '/v2/x/y/blobs/uploads/', { method: 'POST' });
    assert.equal(up.status, 401);
    assert.equal(up.headers.get('www-authenticate'), challenge(',scope="repository:x/y:pull,push"'));
  });

  it('issues a 12-hour login token that /v2 accepts as Basic AWS:<token>', async () => {
    const ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'auth/app' }));
    const sentAt = Date.now();
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    const answeredAt = Date.now();
    const data = out.authorizationData![0]!;
    const decoded = Buffer.from(data.authorizationToken!, 'base64').toString();
    const [user, password, ...rest] = decoded.split(':');
    assert.equal(user, 'AWS');
    assert.equal(rest.length, 0, 'the password holds no colon');
    assert.ok(password!.length > 40);
    // Twelve hours from when the server issued it, an instant between sending and the answer
    // (which a loaded machine may spread over seconds); the wire has epoch seconds.
    const expires = data.expiresAt!.getTime();
    assert.ok(expires >= sentAt + 12 * 3600e3 - 1e3 && expires <= answeredAt + 12 * 3600e3 + 1e3, `expires ${expires - sentAt} ms after the request was sent`);
    assert.equal(data.proxyEndpoint, berth.url);

    const ok = await fetch(`${berth.url}/v2/auth/app/tags/list`, { headers: { Authorization: `Basic ${data.authorizationToken}` } });
    assert.equal(ok.status, 200);
    const tampered = Buffer.from(`AWS:${password!.slice(0, -2)}${password!.endsWith('xx') ? 'yy' : 'xx'}`).toString('base64');
    const bad = await fetch(`${berth.url}/v2/auth/app/tags/list`, { headers: { Authorization: `Basic ${tampered}` } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer realm="/);
    assert.equal(((await bad.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNAUTHORIZED');

    // The CLI's own pipeline: get-login-password | login.
    const { stdout } = await run('aws', ['ecr', 'get-login-password'], { env: awsCliEnv(berth) });
    const viaCli = await fetch(`${berth.url}/v2/auth/app/tags/list`, {
      headers: { Authorization: `Basic ${Buffer.from(`AWS:${stdout.trim()}`).toString('base64')}` },
    });
    assert.equal(viaCli.status, 200);
  });
});
