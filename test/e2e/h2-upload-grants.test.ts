/**
 * Over HTTP/2 a request body needs no Content-Length (the HEADERS frame just does not end the
 * stream), so what a /v2 upload request carries must be judged as the handler reads it: a closing
 * PUT with bytes is ecr:UploadLayerPart too, on h2 as on HTTP/1.1. A caller who may complete
 * uploads but not send their parts must not send the last part in the PUT.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';
import { h2request, type H2Answer } from './helpers/h2-push.js';
import { sha256 } from './helpers/registry-http.js';

const run = promisify(execFile);

const code = (a: H2Answer) => (JSON.parse(a.body.toString() || '{}') as { errors?: Array<{ code: string }> }).errors?.[0]?.code;

describe('an h2 upload is judged by the body it carries', () => {
  let work: string;
  let berth: BerthProcess;
  let ca: Buffer;
  let session: ClientHttp2Session;
  let handler: NodeHttp2Handler;
  let completer: string;

  before(async () => {
    work = await tempDir('berth-h2-grants-');
    const pki = join(work, 'pki');
    await run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1']);
    ca = readFileSync(join(pki, 'ca.crt'));
    berth = await startBerth({ ca: join(pki, 'ca.crt'), args: ['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key')] });
    handler = new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } });
    const common = { endpoint: berth.url, region: berth.region, maxAttempts: 1, requestHandler: handler };
    await new ECRClient({ ...common, credentials: adminCredentials(berth) }).send(new CreateRepositoryCommand({ repositoryName: 'h2/grants' }));
    const iam = new IAMClient({ ...common, credentials: adminCredentials(berth) });
    // May start, look at and complete uploads; may not send their parts.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: ['ecr:InitiateLayerUpload', 'ecr:CompleteLayerUpload', 'ecr:BatchCheckLayerAvailability'], Resource: '*' },
      ],
    };
    await iam.send(new CreateUserCommand({ UserName: 'completer' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'completer', PolicyName: 'p', PolicyDocument: JSON.stringify(policy) }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'completer' }))).AccessKey!;
    const creds = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    const token = (await new ECRClient({ ...common, credentials: creds }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    completer = `Basic ${token.authorizationToken!}`;
    session = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = h2connect(berth.url, { ca });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  });
  after(async () => {
    session?.destroy();
    handler?.destroy();
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('refuses a closing PUT with bytes and no Content-Length to a caller without ecr:UploadLayerPart; nothing is stored', async () => {
    const data = randomBytes(4096);
    const started = await h2request(session, { ':method': 'POST', ':path': '/v2/h2/grants/blobs/uploads/', authorization: completer });
    assert.equal(started.status, 202, started.body.toString());
    const location = String(started.headers.location);
    const put = await h2request(session, { ':method': 'PUT', ':path': `${location}?digest=${sha256(data)}`, authorization: completer }, [data]);
    assert.deepEqual([put.status, code(put)], [403, 'DENIED'], put.body.toString());
    const head = await h2request(session, { ':method': 'HEAD', ':path': `/v2/h2/grants/blobs/${sha256(data)}`, authorization: completer });
    assert.equal(head.status, 404, 'no blob was stored');
    // The same caller may still complete an upload without a body (here: an empty blob).
    const empty = await h2request(session, { ':method': 'PUT', ':path': `${location}?digest=${sha256('')}`, authorization: completer });
    assert.equal(empty.status, 201, empty.body.toString());
  });
});
