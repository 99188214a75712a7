/**
 * The SigV4 check of the AWS APIs against the real app over real HTTP, for what a signature must
 * and must not let through: requests signed by @smithy/signature-v4, then sent as they were or
 * changed on the way (a header repeated, added or swapped, the body, the date, the scope, the
 * credentials). Every refusal is checked to have done nothing.
 */
import { DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { DeleteAccessKeyCommand, IAMClient, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ECR_TARGET, signedFetch, type SignedAnswer, type WireRequest } from './helpers/signed-json.js';

const repositoryNames = async (ecr: ECRClient) => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

function refusedAs(res: SignedAnswer, type: string, message?: RegExp): void {
  assert.equal(res.json.__type, type, JSON.stringify(res.json));
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  if (message) assert.match(res.json.message ?? '', message);
}

describe('SigV4 over HTTP: repeated headers', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  it('verifies a signed header sent several times, its values joined by commas as the spec says', async () => {
    const creds = adminCredentials(berth);
    // The signer signs the joined value; the wire carries one line per value (AWS's get-header-key-duplicate).
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'repeated/header' }, headers: { 'my-header1': 'value2,value2,value1' } };
    const res = await signedFetch(berth, creds, call, (w) => ({ ...w, headers: { ...w.headers, 'my-header1': ['value2', 'value2', 'value1'] } }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(await repositoryNames(ecrClient(berth)), ['repeated/header']);
  });

  it('refuses a signed request with a header repeated on the way, and does nothing', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'repeated/after' } };
    const again = (name: string, value?: string) => (w: WireRequest) => {
      const first = w.headers[name] as string;
      return { ...w, headers: { ...w.headers, [name]: [first, value ?? first] } };
    };
    // node:http keeps only the first Host or Authorization in req.headers: the signature still sees both.
    refusedAs(await signedFetch(berth, creds, call, again('host', 'evil.example')), 'InvalidSignatureException');
    refusedAs(await signedFetch(berth, creds, call, again('host')), 'InvalidSignatureException');
    refusedAs(await signedFetch(berth, creds, call, again('x-amz-date')), 'IncompleteSignatureException', /ISO-8601/);
    refusedAs(await signedFetch(berth, creds, call, again('authorization')), 'IncompleteSignatureException', /^Only one Authorization header is allowed\.$/);
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('repeated/after'));
  });

  it('refuses an Authorization naming a component twice, or one without a value', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'two/credentials' } };
    const auth = (change: (a: string) => string) => (w: WireRequest) => ({
      ...w,
      headers: { ...w.headers, authorization: change(w.headers.authorization as string) },
    });
    const twoKeys = await signedFetch(
      berth,
      creds,
      call,
      auth((a) => `${a}, Credential=AKIAOTHEROTHEROTHER2/${a.split('/')[1]}/us-east-1/ecr/aws4_request`),
    );
    refusedAs(twoKeys, 'IncompleteSignatureException', /^Authorization header has more than one 'Credential' parameter\.$/);
    refusedAs(
      await signedFetch(
        berth,
        creds,
        call,
        auth((a) => `${a}, junk`),
      ),
      'IncompleteSignatureException',
      /'junk' not a valid key=value pair/,
    );
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('two/credentials'));
  });
});

describe('SigV4 over HTTP: whose signature', () => {
  let berth: BerthInProcess;
  let session: Credentials & { sessionToken: string };
  let other: Credentials & { sessionToken: string };
  before(async () => {
    berth = await startInProcess();
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const temporary = async () => {
      const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
      return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    };
    session = await temporary();
    other = await temporary();
  });
  after(async () => berth?.cleanup());

  const create = (name: string) => ({ target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: name } });
  const unrecognized = (res: SignedAnswer) => refusedAs(res, 'UnrecognizedClientException', /^The security token included in the request is invalid\.$/);

  it('temporary credentials need their own session token, signed', async () => {
    const { sessionToken, ...keys } = session;
    assert.equal((await signedFetch(berth, keys, { ...create('temp/ok'), sessionToken })).status, 200);
    assert.equal((await signedFetch(berth, keys, { ...create('temp/presigned'), sessionToken, presignExpires: 60 })).status, 200);
    unrecognized(await signedFetch(berth, keys, create('temp/no-token')));
    unrecognized(await signedFetch(berth, keys, { ...create('temp/other-token'), sessionToken: other.sessionToken }));
    const forged = `${sessionToken.slice(0, -4)}${sessionToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const res = await signedFetch(berth, keys, { ...create('temp/forged'), sessionToken: forged });
    assert.equal(res.json.__type, 'UnrecognizedClientException', JSON.stringify(res.json));
    const names = await repositoryNames(ecrClient(berth));
    assert.deepEqual(names.filter((n) => n?.startsWith('temp/')).sort(), ['temp/ok', 'temp/presigned']);
  });

  it('a long-term key with a session token is refused, as AWS refuses it', async () => {
    unrecognized(await signedFetch(berth, adminCredentials(berth), { ...create('key/with-token'), sessionToken: session.sessionToken }));
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('key/with-token'));
  });

  it('an inactive or deleted key is refused', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const user = await createUser(berth, iam, 'keyholder', ['FullAccess']);
    assert.equal((await signedFetch(berth, user.keys, create('keys/active'))).status, 200);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyholder', AccessKeyId: user.keys.accessKeyId, Status: 'Inactive' }));
    unrecognized(await signedFetch(berth, user.keys, create('keys/inactive')));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'keyholder', AccessKeyId: user.keys.accessKeyId }));
    unrecognized(await signedFetch(berth, user.keys, create('keys/deleted')));
    const names = await repositoryNames(ecrClient(berth));
    assert.deepEqual(
      names.filter((n) => n?.startsWith('keys/')),
      ['keys/active'],
    );
  });
});

describe('SigV4 over HTTP: what the signature covers', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  it('a changed operation or body is refused, and nothing happens', async () => {
    const creds = adminCredentials(berth);
    const describe = { target: `${ECR_TARGET}DescribeRepositories`, body: { repositoryNames: ['kept/app'] } };
    assert.equal((await signedFetch(berth, creds, { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'kept/app' } })).status, 200);
    // A captured DescribeRepositories replayed as DeleteRepository (a body both accept).
    const asDelete = (w: WireRequest) => ({
      ...w,
      headers: { ...w.headers, 'x-amz-target': `${ECR_TARGET}DeleteRepository` },
      body: '{"repositoryName":"kept/app"}',
    });
    refusedAs(await signedFetch(berth, creds, describe, asDelete), 'InvalidSignatureException');
    const otherBody = (w: WireRequest) => ({ ...w, body: '{"repositoryNames":["kept/other"]}' });
    refusedAs(await signedFetch(berth, creds, describe, otherBody), 'InvalidSignatureException');
    // A signed X-Amz-Content-Sha256 that is not the body's.
    const hashed = { ...describe, headers: { 'x-amz-content-sha256': '0'.repeat(64) } };
    refusedAs(await signedFetch(berth, creds, hashed), 'InvalidSignatureException', /'x-amz-content-sha256' header does not match/);
    assert.deepEqual(await repositoryNames(ecrClient(berth)), ['kept/app']);
  });

  it('a signature more than 15 minutes off the clock is refused, in the words AWS uses', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'late/app' } };
    const late = await signedFetch(berth, creds, { ...call, signingDate: new Date(Date.now() - 16 * 60_000) });
    refusedAs(late, 'InvalidSignatureException', /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const early = await signedFetch(berth, creds, { ...call, signingDate: new Date(Date.now() + 16 * 60_000) });
    refusedAs(early, 'InvalidSignatureException', /^Signature not yet current: /);
    assert.equal((await signedFetch(berth, creds, { ...call, signingDate: new Date(Date.now() - 10 * 60_000) })).status, 200);
  });

  it('a scope of another service, another day or another terminator is refused', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'scoped/app' } };
    refusedAs(await signedFetch(berth, creds, { ...call, service: 'ecr-public' }), 'InvalidSignatureException', /correct service: 'ecr'/);
    const credential = (change: (c: string) => string) => (w: WireRequest) => ({
      ...w,
      headers: { ...w.headers, authorization: (w.headers.authorization as string).replace(/Credential=([^,]+)/, (_, c: string) => `Credential=${change(c)}`) },
    });
    const dayBefore = credential((c) => c.replace(/\/(\d{8})\//, (_, d: string) => `/${String(Number(d) - 1)}/`));
    refusedAs(await signedFetch(berth, creds, call, dayBefore), 'InvalidSignatureException', /^Date in Credential scope does not match/);
    const terminator = credential((c) => c.replace(/aws4_request$/, 'aws5_request'));
    refusedAs(await signedFetch(berth, creds, call, terminator), 'InvalidSignatureException', /valid terminator/);
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('scoped/app'));
  });

  it('a presigned request (query-string authentication) is verified like a signed one', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'presigned/app' }, presignExpires: 60 };
    const changed = await signedFetch(berth, creds, call, (w) => ({ ...w, body: '{"repositoryName":"presigned/other"}' }));
    refusedAs(changed, 'InvalidSignatureException');
    const longer = await signedFetch(berth, creds, call, (w) => ({ ...w, path: w.path.replace('X-Amz-Expires=60', 'X-Amz-Expires=600') }));
    refusedAs(longer, 'InvalidSignatureException');
    // Past SigV4's week, whatever the signature (the SDKs will not presign for longer).
    const week = await signedFetch(berth, creds, call, (w) => ({ ...w, path: w.path.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801') }));
    refusedAs(week, 'IncompleteSignatureException', /^X-Amz-Expires must be between 1 and 604800 seconds\.$/);
    const expired = await signedFetch(berth, creds, { ...call, signingDate: new Date(Date.now() - 120_000) });
    refusedAs(expired, 'InvalidSignatureException', /^Request has expired$/);
    const res = await signedFetch(berth, creds, call);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const names = await repositoryNames(ecrClient(berth));
    assert.deepEqual(
      names.filter((n) => n?.startsWith('presigned/')),
      ['presigned/app'],
    );
  });
});
