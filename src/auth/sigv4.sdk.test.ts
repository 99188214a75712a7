/**
 * The real AWS SDK clients (ECR over JSON 1.1, IAM and STS over Query) against a tiny loopback
 * server that authenticates with verifySigV4: proof that signatures made by the SDK's full
 * middleware stack, as they arrive through node:http, verify; and that our error names reach the
 * SDK as the exceptions it knows.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DescribeRegistryCommand, ECRClient, TagResourceCommand } from '@aws-sdk/client-ecr';
import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AuthError, UNRECOGNIZED_CLIENT_MESSAGE } from './errors.js';
import { parseAuthorization, sha256Hex, splitUrl, verifySigV4, type SignedRequestInfo } from './sigv4.js';

const SECRETS = new Map([
  ['AKIAEXAMPLEEXAMPLE22', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['AKIAOTHEROTHEROTHER2', 'aB3+/0123456789abcdefghijklmnopqrstuvwxy'],
]);
const [[AKID, SECRET]] = [...SECRETS] as [[string, string]];

interface Seen {
  info: SignedRequestInfo;
  body: string;
  url: string;
}

let server: Server;
let endpoint: string;
let seen: Seen[] = [];

function authenticate(req: IncomingMessage, body: Buffer): SignedRequestInfo {
  const { path, rawQuery } = splitUrl(req.url ?? '/');
  const claimed = parseAuthorization({ headers: req.headers, rawQuery });
  const secretAccessKey = SECRETS.get(claimed.accessKeyId);
  if (!secretAccessKey) throw new AuthError('UnrecognizedClient', UNRECOGNIZED_CLIENT_MESSAGE);
  return verifySigV4({
    method: req.method ?? 'GET',
    path,
    rawQuery,
    headers: req.headers,
    bodySha256Hex: sha256Hex(body),
    secretAccessKey,
    // The SDK signs with the real clock, so this test server reads it.
    now: new Date(),
    expectedService: req.headers['x-amz-target'] ? 'ecr' : ['iam', 'sts'],
  });
}

function queryXml(action: string, result: string, ns: string): string {
  return `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></${action}Response>`;
}

function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const json = req.headers['x-amz-target'] !== undefined;
  let info: SignedRequestInfo;
  try {
    info = authenticate(req, body);
  } catch (e) {
    assert.ok(e instanceof AuthError);
    if (json) {
      res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'r-1' });
      res.end(JSON.stringify({ __type: e.code, message: e.message }));
    } else {
      res.writeHead(e.query.status, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse><Error><Type>Sender</Type><Code>${e.query.code}</Code><Message>${e.message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
      );
    }
    return;
  }
  seen.push({ info, body: body.toString('utf8'), url: req.url ?? '' });
  if (json) {
    const op = String(req.headers['x-amz-target']).split('.')[1];
    const out = op === 'DescribeRegistry' ? { registryId: '123456789012', replicationConfiguration: { rules: [] } } : {};
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'r-1' });
    res.end(JSON.stringify(out));
    return;
  }
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  res.writeHead(200, { 'content-type': 'text/xml' });
  if (action === 'GetUser') {
    const user =
      '<User><Path>/</Path><UserName>alice</UserName><UserId>AIDAEXAMPLE</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate></User>';
    res.end(queryXml('GetUser', user, 'https://iam.amazonaws.com/doc/2010-05-08/'));
  } else {
    const id = '<Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>';
    res.end(queryXml('GetCallerIdentity', id, 'https://sts.amazonaws.com/doc/2011-06-15/'));
  }
}

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const creds = (accessKeyId = AKID, secretAccessKey = SECRET, sessionToken?: string) => ({
  accessKeyId,
  secretAccessKey,
  ...(sessionToken !== undefined && { sessionToken }),
});

function lastSeen(): Seen {
  const s = seen.at(-1);
  assert.ok(s, 'the server authenticated no request');
  return s;
}

async function sdkError(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error);
    return e;
  }
  assert.fail('expected the SDK call to fail');
}

describe('AWS SDK signatures verify', () => {
  it('ECR DescribeRegistry (JSON 1.1)', async () => {
    seen = [];
    const ecr = new ECRClient({ region: 'eu-west-1', endpoint, credentials: creds(), maxAttempts: 1 });
    const out = await ecr.send(new DescribeRegistryCommand({}));
    assert.equal(out.registryId, '123456789012');
    assert.deepEqual(out.replicationConfiguration, { rules: [] });
    const { info } = lastSeen();
    assert.equal(info.accessKeyId, AKID);
    assert.equal(info.service, 'ecr');
    assert.equal(info.region, 'eu-west-1');
    assert.ok(info.signedHeaders.includes('x-amz-target'));
    ecr.destroy();
  });

  it('ECR with a unicode body, a session token and an endpoint path', async () => {
    seen = [];
    const ecr = new ECRClient({ region: 'us-east-1', endpoint: `${endpoint}/berth/api`, credentials: creds(AKID, SECRET, 'sess/token+1=='), maxAttempts: 1 });
    await ecr.send(
      new TagResourceCommand({
        resourceArn: 'arn:aws:ecr:us-east-1:123456789012:repository/team/web',
        tags: [{ Key: 'owner', Value: 'ünïcødé ✓ "quoted"  two  spaces' }],
      }),
    );
    const s = lastSeen();
    assert.equal(s.info.securityToken, 'sess/token+1==');
    assert.equal(s.url, '/berth/api/'); // the SDK joins the operation path '/' onto the endpoint's
    assert.match(s.body, /ünïcødé ✓/);
    ecr.destroy();
  });

  it('IAM GetUser (Query, form body)', async () => {
    seen = [];
    const iam = new IAMClient({ region: 'us-east-1', endpoint, credentials: creds(), maxAttempts: 1 });
    const out = await iam.send(new GetUserCommand({ UserName: 'alice' }));
    assert.equal(out.User?.UserName, 'alice');
    const s = lastSeen();
    assert.equal(s.info.service, 'iam');
    assert.match(s.body, /Action=GetUser/);
    iam.destroy();
  });

  it('STS GetCallerIdentity (Query)', async () => {
    seen = [];
    const sts = new STSClient({ region: 'ap-south-1', endpoint, credentials: creds(), maxAttempts: 1 });
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '123456789012');
    assert.equal(lastSeen().info.service, 'sts');
    assert.equal(lastSeen().info.region, 'ap-south-1');
    sts.destroy();
  });
});

describe('AWS SDK sees our authentication errors by their AWS names', () => {
  it('ECR: wrong secret → InvalidSignatureException, unknown key → UnrecognizedClientException', async () => {
    seen = [];
    const wrong = new ECRClient({ region: 'us-east-1', endpoint, credentials: creds(AKID, SECRET.replace('w', 'x')), maxAttempts: 1 });
    const e1 = await sdkError(wrong.send(new DescribeRegistryCommand({})));
    assert.equal(e1.name, 'InvalidSignatureException');
    assert.equal(e1.$metadata?.httpStatusCode, 400);
    const unknown = new ECRClient({ region: 'us-east-1', endpoint, credentials: creds('AKIAUNKNOWNUNKNOWN22', SECRET), maxAttempts: 1 });
    const e2 = await sdkError(unknown.send(new DescribeRegistryCommand({})));
    assert.equal(e2.name, 'UnrecognizedClientException');
    assert.equal(e2.message, UNRECOGNIZED_CLIENT_MESSAGE);
    assert.equal(seen.length, 0);
    wrong.destroy();
    unknown.destroy();
  });

  it("ECR: another key's secret does not verify", async () => {
    const other = SECRETS.get('AKIAOTHEROTHEROTHER2')!;
    const ecr = new ECRClient({ region: 'us-east-1', endpoint, credentials: creds(AKID, other), maxAttempts: 1 });
    assert.equal((await sdkError(ecr.send(new DescribeRegistryCommand({})))).name, 'InvalidSignatureException');
    ecr.destroy();
  });

  it('IAM/STS: wrong secret → SignatureDoesNotMatch (403), unknown key → InvalidClientTokenId', async () => {
    const iam = new IAMClient({ region: 'us-east-1', endpoint, credentials: creds(AKID, 'not-the-secret'), maxAttempts: 1 });
    const e1 = await sdkError(iam.send(new GetUserCommand({})));
    assert.equal(e1.name, 'SignatureDoesNotMatch');
    assert.equal(e1.$metadata?.httpStatusCode, 403);
    const sts = new STSClient({ region: 'us-east-1', endpoint, credentials: creds('AKIAUNKNOWNUNKNOWN22', SECRET), maxAttempts: 1 });
    assert.equal((await sdkError(sts.send(new GetCallerIdentityCommand({})))).name, 'InvalidClientTokenId');
    iam.destroy();
    sts.destroy();
  });
});
