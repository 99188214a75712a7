/**
 * Issue #16 point 3: another account's users pull (and push) over /v2, authorized by both
 * accounts' policies. The host form `<account>.<registryHost>` is driven with real skopeo (which
 * cannot resolve `*.localhost` here, so it reaches Berth as its HTTP proxy: Go then sends the
 * account host in Host, exactly as it would over DNS) and with raw HTTP; the single-host fallback
 * `/v2/account--<account>/<name>` with skopeo directly. The public form stays anonymous.
 */
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  PutRegistryPolicyCommand,
  SetRepositoryPolicyCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from './helpers/iam-users.js';
import { forgetLogin, rememberLogin } from './helpers/logins.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { getManifest, manifestAccept, request } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const OWNER = '000000000000';
const OTHER = '111122223333';
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const PUSH = ['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'];

interface Raw {
  status: number;
  body: string;
}

/** A /v2 request with any Host header (fetch may not set Host). */
function rawV2(port: number, host: string, path: string, authorization?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, headers: { Host: host, Accept: manifestAccept, ...(authorization && { Authorization: authorization }) } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const codeOf = (r: Raw): string | undefined => (JSON.parse(r.body || '{}') as { errors?: { code: string }[] }).errors?.[0]?.code;

describe('cross-account /v2', () => {
  let berth: BerthProcess;
  let port: number;
  let skopeo: Skopeo;
  let viaHost: Skopeo;
  let admin: ECRClient;
  let puller: TestIdentity;
  let pusher: TestIdentity;
  let work: string;
  let layout: string;
  /** The owner's registry as its account host, and as the single-host fallback. */
  let ownerHost: string;
  let fallback: string;

  const grant = (actions: string[]) =>
    admin.send(
      new SetRepositoryPolicyCommand({
        repositoryName: 'shared/app',
        force: true,
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Sid: 'other', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: actions }],
        }),
      }),
    );

  /** skopeo as `who`, logged in to both the account host and the bare host as `skopeo login` would be. */
  async function as<T>(who: TestIdentity, fn: () => Promise<T>): Promise<T> {
    rememberLogin(berth.url, who.authorization!);
    rememberLogin(`http://${ownerHost}`, who.authorization!);
    try {
      return await fn();
    } finally {
      rememberLogin(berth.url, berth.authorization);
      forgetLogin(`http://${ownerHost}`);
    }
  }

  before(async () => {
    work = await tempDir('berth-xacct-');
    layout = join(work, 'img');
    await buildImageLayout(layout, { layers: 1, layerBytes: 4096, tag: 'app' });
    port = await freePort();
    ownerHost = `${OWNER}.localhost:${port}`;
    [berth, skopeo, viaHost] = await Promise.all([
      startBerth({ port, env: { BERTH_REGISTRY_HOST: `localhost:${port}` } }),
      createSkopeo(),
      // Berth as skopeo's proxy: the request line names the account host, and so does Host.
      createSkopeo({ env: { HTTP_PROXY: `http://127.0.0.1:${port}`, http_proxy: `http://127.0.0.1:${port}`, NO_PROXY: '', no_proxy: '' } }),
    ]);
    fallback = `${berth.host}/account--${OWNER}`;
    admin = ecrClient(berth);
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'shared/app' }));
    await skopeo.copy(`oci:${layout}:app`, `docker://${berth.host}/shared/app:v1`);
    await createAccount(berth, OTHER);
    puller = await otherAccountIdentity(berth, OTHER, { name: 'puller', managed: ['ReadOnly'] });
    pusher = await otherAccountIdentity(berth, OTHER, { name: 'pusher', managed: ['PowerUser'] });
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    await viaHost?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses another account's user with DENIED while no repository policy grants it, by host and by fallback", async () => {
    const byHost = await rawV2(port, ownerHost, '/v2/shared/app/manifests/v1', puller.authorization);
    assert.equal(byHost.status, 403);
    assert.equal(codeOf(byHost), 'DENIED');
    assert.match(byHost.body, new RegExp(`arn:aws:ecr:us-east-1:${OWNER}:repository/shared/app`));
    await as(puller, async () => {
      await assert.rejects(skopeo.copy(`docker://${fallback}/shared/app:v1`, `oci:${join(work, 'denied')}:v1`), /denied/i);
      await assert.rejects(viaHost.copy(`docker://${ownerHost}/shared/app:v1`, `oci:${join(work, 'denied2')}:v1`), /denied/i);
    });
  });

  it('lets them pull with skopeo by host and by fallback once the repository policy grants their account', async () => {
    await grant(PULL);
    await as(puller, async () => {
      await viaHost.copy(`docker://${ownerHost}/shared/app:v1`, `oci:${join(work, 'by-host')}:v1`);
      await skopeo.copy(`docker://${fallback}/shared/app:v1`, `oci:${join(work, 'by-path')}:v1`);
    });
    const own = await skopeo.inspectRaw(`docker://${berth.host}/shared/app:v1`);
    const pulled = await as(puller, () => viaHost.inspectRaw(`docker://${ownerHost}/shared/app:v1`));
    assert.deepEqual(pulled, own);
    // The grant is pull only: pushing is still refused.
    await as(pusher, () => assert.rejects(skopeo.copy(`oci:${layout}:app`, `docker://${fallback}/shared/app:v2`), /denied/i));
  });

  it("needs the caller's own identity policy too: the other account's root may, a user allowed only to log in may not", async () => {
    await grant(PULL);
    const root = await otherAccountIdentity(berth, OTHER);
    assert.equal((await rawV2(port, ownerHost, '/v2/shared/app/manifests/v1', root.authorization)).status, 200);
    // The other account's root makes a user that may log in and nothing more.
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: root.keys, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'login-only' }));
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] };
    await iam.send(new PutUserPolicyCommand({ UserName: 'login-only', PolicyName: 'login', PolicyDocument: JSON.stringify(doc) }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'login-only' }))).AccessKey!;
    const keys = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    const token = await ecrClient(berth, keys).send(new GetAuthorizationTokenCommand({}));
    const denied = await rawV2(port, ownerHost, '/v2/shared/app/manifests/v1', `Basic ${token.authorizationData![0]!.authorizationToken}`);
    assert.deepEqual([denied.status, codeOf(denied)], [403, 'DENIED']);
    assert.match(denied.body, /login-only is not authorized to perform: ecr:BatchGetImage/);
  });

  it('pushes through the fallback form when the policy grants push (upload Locations keep the prefix)', async () => {
    await grant([...PULL, ...PUSH]);
    await as(pusher, () => skopeo.copy(`oci:${layout}:app`, `docker://${fallback}/shared/app:v2`));
    const tags = await skopeo.listTags(`docker://${berth.host}/shared/app`);
    assert.deepEqual(tags.sort(), ['v1', 'v2']);
    // A mount names its source as the target is named, prefix and all; the answer keeps the prefix.
    const manifest = JSON.parse((await getManifest(berth.url, 'shared/app', 'v1')).body.toString()) as { layers: { digest: string }[] };
    const digest = manifest.layers[0]!.digest;
    const mounted = await request(`${berth.url}/v2/account--${OWNER}/shared/app/blobs/uploads/?mount=${digest}&from=account--${OWNER}/shared/app`, {
      method: 'POST',
      headers: { authorization: pusher.authorization! },
    });
    assert.equal(mounted.status, 201, mounted.body.toString());
    assert.equal(mounted.headers.get('location'), `/v2/account--${OWNER}/shared/app/blobs/${digest}`);
  });

  it("a token from `aws ecr get-login-password` works against the other account's host", async () => {
    await grant(PULL);
    const env = { ...awsCliEnv(berth), AWS_ACCESS_KEY_ID: puller.keys.accessKeyId, AWS_SECRET_ACCESS_KEY: puller.keys.secretAccessKey };
    const password = (await run('aws', ['ecr', 'get-login-password'], { env })).stdout.trim();
    const authorization = `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`;
    const got = await rawV2(port, ownerHost, '/v2/shared/app/manifests/v1', authorization);
    assert.equal(got.status, 200);
    assert.equal(JSON.parse(got.body).schemaVersion, 2);
  });

  it('names the account host in repository URIs and proxy endpoints', async () => {
    const mine = await admin.send(new DescribeRepositoriesCommand({ repositoryNames: ['shared/app'] }));
    assert.equal(mine.repositories?.[0]?.repositoryUri, `${ownerHost}/shared/app`);
    // Listing another registry is a registry-level action: the owner's registry policy grants it.
    const registryPolicy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 'ecr:DescribeRepositories', Resource: '*' }],
    };
    await admin.send(new PutRegistryPolicyCommand({ policyText: JSON.stringify(registryPolicy) }));
    const theirs = await puller.ecr.send(new DescribeRepositoriesCommand({ registryId: OWNER, repositoryNames: ['shared/app'] }));
    assert.equal(theirs.repositories?.[0]?.repositoryUri, `${ownerHost}/shared/app`);
    const token = await puller.ecr.send(new GetAuthorizationTokenCommand({}));
    assert.equal(token.authorizationData?.[0]?.proxyEndpoint, `http://${OTHER}.localhost:${port}`);
    const both = await admin.send(new GetAuthorizationTokenCommand({ registryIds: [OWNER, OTHER] }));
    assert.deepEqual(
      both.authorizationData?.map((d) => d.proxyEndpoint),
      [`http://${ownerHost}`, `http://${OTHER}.localhost:${port}`],
    );
  });

  it('refuses hostile Host headers cleanly, and a foreign host never selects an account', async () => {
    const auth = puller.authorization;
    const notAccount = await rawV2(port, `evil.localhost:${port}`, '/v2/shared/app/manifests/v1', auth);
    assert.deepEqual([notAccount.status, codeOf(notAccount)], [404, 'NOT_FOUND']);
    const short = await rawV2(port, `12345.localhost:${port}`, '/v2/shared/app/manifests/v1', auth);
    assert.deepEqual([short.status, codeOf(short)], [404, 'NOT_FOUND']);
    const long = await rawV2(port, `${'a'.repeat(300)}.localhost`, '/v2/', auth);
    assert.equal(long.status, 400);
    // Not under registryHost: the caller's own registry (which has no shared/app), never OWNER's.
    const foreign = await rawV2(port, `${OWNER}.evil.example`, '/v2/shared/app/manifests/v1', auth);
    assert.deepEqual([foreign.status, codeOf(foreign)], [404, 'NAME_UNKNOWN']);
    // Naming the account twice is ambiguous, and `account--` is no repository name.
    const twice = await rawV2(port, ownerHost, `/v2/account--${OWNER}/shared/app/manifests/v1`, auth);
    assert.equal(twice.status, 404);
    const reserved = await rawV2(port, berth.host, '/v2/account--x/app/manifests/v1', berth.authorization);
    assert.deepEqual([reserved.status, codeOf(reserved)], [400, 'NAME_INVALID']);
    // Anonymous callers are challenged on an account host, as on the bare one.
    const anonymous = await rawV2(port, ownerHost, '/v2/shared/app/manifests/v1');
    assert.deepEqual([anonymous.status, codeOf(anonymous)], [401, 'UNAUTHORIZED']);
  });

  it('keeps the public form and its anonymous pulls unchanged', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await skopeo.copy(`oci:${layout}:app`, `docker://${berth.host}/${OWNER}/tools/hello:v1`);
    const got = await rawV2(port, berth.host, `/v2/${OWNER}/tools/hello/manifests/v1`);
    assert.equal(got.status, 200);
    await skopeo.copy(`docker://${berth.host}/${OWNER}/tools/hello:v1`, `oci:${join(work, 'public')}:v1`, ['--src-no-creds']);
  });
});

describe('cross-account /v2 without registryHost', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let work: string;

  before(async () => {
    work = await tempDir('berth-xacct-single-');
    await buildImageLayout(join(work, 'img'), { layers: 1, layerBytes: 1024, tag: 'app' });
    [berth, skopeo] = await Promise.all([startBerth(), createSkopeo()]);
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("gives another account's repositories the fallback URI, which skopeo pulls as given", async () => {
    const admin = ecrClient(berth);
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'team/web' }));
    await skopeo.copy(`oci:${join(work, 'img')}:app`, `docker://${berth.host}/team/web:v1`);
    await createAccount(berth, OTHER);
    const puller = await otherAccountIdentity(berth, OTHER, { name: 'puller', managed: ['ReadOnly'] });
    const toOther = (Action: string | string[], Resource?: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OTHER }, Action, ...(Resource && { Resource }) }] });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'team/web', policyText: toOther([...PULL, 'ecr:ListImages']) }));
    await admin.send(new PutRegistryPolicyCommand({ policyText: toOther('ecr:DescribeRepositories', '*') }));

    const own = await admin.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/web'] }));
    assert.equal(own.repositories?.[0]?.repositoryUri, `${berth.host}/team/web`);
    const theirs = await puller.ecr.send(new DescribeRepositoriesCommand({ registryId: OWNER, repositoryNames: ['team/web'] }));
    const uri = theirs.repositories?.[0]?.repositoryUri;
    assert.equal(uri, `${berth.host}/account--${OWNER}/team/web`);
    rememberLogin(berth.url, puller.authorization!);
    try {
      await skopeo.copy(`docker://${uri}:v1`, `oci:${join(work, 'pulled')}:v1`);
      // Tags of another registry, with its Link pages under the same prefix.
      assert.deepEqual(await skopeo.listTags(`docker://${uri}`), ['v1']);
    } finally {
      rememberLogin(berth.url, berth.authorization);
    }
  });
});
