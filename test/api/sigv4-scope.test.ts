/**
 * What a SigV4 signature must cover, and which region it may be scoped to, against the real app
 * in process over real HTTP: requests signed by @smithy/signature-v4 with a header left out of
 * the signature (the host, the date, the target, the session token, the payload hash) or an
 * unsigned payload asked for, ECR Public's, KMS's, IAM's and STS's regions, and a deleted user's login token on /v2.
 * The aws CLI with `--region` other than the server's is in test/e2e/sigv4-scope.test.ts.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DetachUserPolicyCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { errorCode, request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ECR_TARGET, signedFetch, signedQuery } from './helpers/signed-json.js';

const repositoryNames = async (ecr: ECRClient) => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

describe('SigV4: signed headers', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  it('refuses a request whose X-Amz-Target is not signed, naming the header, and does nothing', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'unsigned/target' } };
    const res = await signedFetch(berth, creds, { ...call, unsigned: ['x-amz-target'] });
    assert.equal(res.status, 400);
    assert.equal(res.json.__type, 'InvalidSignatureException');
    assert.equal(res.json.message, "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
    assert.deepEqual(await repositoryNames(ecrClient(berth)), []);
    // The same request with every header signed goes through.
    assert.equal((await signedFetch(berth, creds, call)).status, 200);
    assert.deepEqual(await repositoryNames(ecrClient(berth)), ['unsigned/target']);
  });

  it('refuses an unsigned X-Amz-Date or Host, each by name', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}DescribeRepositories`, body: {} };
    const noDate = await signedFetch(berth, creds, { ...call, unsigned: ['x-amz-date'] });
    assert.deepEqual(
      [noDate.status, noDate.json.__type, noDate.json.message],
      [400, 'InvalidSignatureException', "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."],
    );
    const noHost = await signedFetch(berth, creds, { ...call, unsigned: ['host'] });
    assert.deepEqual([noHost.status, noHost.json.__type], [400, 'InvalidSignatureException']);
    assert.match(noHost.json.message ?? '', /'Host' or ':authority' must be a 'SignedHeader'/);
  });
  it('refuses an unsigned X-Amz-Security-Token or X-Amz-Content-Sha256, each by name, and does nothing', async () => {
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    const session = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey! };
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'unsigned/parts' } };
    const noToken = await signedFetch(berth, session, { ...call, sessionToken: c.SessionToken!, unsigned: ['x-amz-security-token'] });
    assert.deepEqual(
      [noToken.status, noToken.json.__type, noToken.json.message],
      [400, 'InvalidSignatureException', "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."],
    );
    const creds = adminCredentials(berth);
    const hashed = { ...call, headers: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } };
    const noHash = await signedFetch(berth, creds, { ...hashed, unsigned: ['x-amz-content-sha256'] });
    assert.deepEqual(
      [noHash.status, noHash.json.__type, noHash.json.message],
      [400, 'InvalidSignatureException', "'X-Amz-Content-Sha256' must be a 'SignedHeader' in the AWS Authorization."],
    );
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('unsigned/parts'));
  });

  it('refuses UNSIGNED-PAYLOAD on the JSON API, so a body changed after signing does nothing', async () => {
    const creds = adminCredentials(berth);
    const call = {
      target: `${ECR_TARGET}CreateRepository`,
      body: { repositoryName: 'unsigned/asked' },
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    };
    const swapped = await signedFetch(berth, creds, call, (w) => ({ ...w, body: '{"repositoryName":"unsigned/swapped"}' }));
    assert.deepEqual([swapped.status, swapped.json.__type], [400, 'IncompleteSignatureException']);
    assert.match(swapped.json.message ?? '', /UNSIGNED-PAYLOAD is not accepted/);
    const asIs = await signedFetch(berth, creds, call);
    assert.deepEqual([asIs.status, asIs.json.__type], [400, 'IncompleteSignatureException']);
    const names = await repositoryNames(ecrClient(berth));
    assert.ok(!names.includes('unsigned/asked') && !names.includes('unsigned/swapped'));
  });
});

describe('SigV4: the region of the signature', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_REGION: 'ap-south-1' } });
  });
  after(async () => berth?.cleanup());

  it('ECR Public and KMS take their own regions only', async () => {
    const creds = adminCredentials(berth);
    const pub = await signedFetch(berth, creds, { target: 'SpencerFrontendService.DescribeRegistries', body: {}, service: 'ecr-public', region: 'ap-south-1' });
    assert.deepEqual([pub.status, pub.json.__type], [400, 'InvalidSignatureException']);
    assert.match(pub.json.message ?? '', /valid region, not 'ap-south-1'/);
    const pubOk = await signedFetch(berth, creds, {
      target: 'SpencerFrontendService.DescribeRegistries',
      body: {},
      service: 'ecr-public',
      region: 'us-east-1',
    });
    assert.equal(pubOk.status, 200, JSON.stringify(pubOk.json));
    const kms = await signedFetch(berth, creds, { target: 'TrentService.ListKeys', body: {}, service: 'kms', region: 'us-east-1' });
    assert.deepEqual([kms.status, kms.json.__type], [400, 'InvalidSignatureException']);
    assert.match(kms.json.message ?? '', /valid region, not 'us-east-1'/);
    assert.equal((await signedFetch(berth, creds, { target: 'TrentService.ListKeys', body: {}, service: 'kms' })).status, 200);
  });

  it("IAM and STS take us-east-1 (their global endpoints' signing region) and the server's region, and refuse any other as AWS does", async () => {
    const creds = adminCredentials(berth);
    const createUser = (name: string) => new URLSearchParams({ Action: 'CreateUser', Version: '2010-05-08', UserName: name });
    const listUsers = new URLSearchParams({ Action: 'ListUsers', Version: '2010-05-08' });
    const names = async () => (await signedQuery(berth, creds, { form: listUsers, service: 'iam', region: 'us-east-1' })).text.match(/<UserName>[^<]*/g);
    const other = await signedQuery(berth, creds, { form: createUser('scoped-eu'), service: 'iam', region: 'eu-west-1' });
    assert.deepEqual([other.status, other.type], [403, 'SignatureDoesNotMatch']);
    assert.match(other.message ?? '', /Credential should be scoped to a valid region, not 'eu-west-1'/);
    assert.equal(await names(), null, 'nothing was created');
    assert.equal((await signedQuery(berth, creds, { form: createUser('scoped-us'), service: 'iam', region: 'us-east-1' })).status, 200);
    assert.equal((await signedQuery(berth, creds, { form: createUser('scoped-ap'), service: 'iam', region: 'ap-south-1' })).status, 200);
    const identity = new URLSearchParams({ Action: 'GetCallerIdentity', Version: '2011-06-15' });
    const sts = await signedQuery(berth, creds, { form: identity, service: 'sts', region: 'eu-west-1' });
    assert.deepEqual([sts.status, sts.type], [403, 'SignatureDoesNotMatch']);
    for (const region of ['us-east-1', 'ap-south-1']) assert.equal((await signedQuery(berth, creds, { form: identity, service: 'sts', region })).status, 200);
  });
});

describe('login tokens of deleted users', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  it('get 401 UNAUTHORIZED on /v2 once the user is gone', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'leaver' }));
    const policyArn = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
    await iam.send(new AttachUserPolicyCommand({ UserName: 'leaver', PolicyArn: policyArn }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'leaver' }))).AccessKey!;
    const token = (await ecrClient(berth, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! }).send(new GetAuthorizationTokenCommand({})))
      .authorizationData![0]!.authorizationToken!;
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'kept/app' }));
    const catalog = () => request(`${berth.url}/v2/kept/app/tags/list`, { headers: { authorization: `Basic ${token}` } });
    assert.equal((await catalog()).status, 200);

    await iam.send(new DetachUserPolicyCommand({ UserName: 'leaver', PolicyArn: policyArn }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'leaver', AccessKeyId: key.AccessKeyId! }));
    await iam.send(new DeleteUserCommand({ UserName: 'leaver' }));
    const res = await catalog();
    assert.equal(res.status, 401, res.body.toString());
    assert.equal(errorCode(res), 'UNAUTHORIZED');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="/);
    assert.doesNotMatch(berth.output(), /request failed/);
  });
});
