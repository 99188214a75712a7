/**
 * The access log and the server's log, read as an operator would: a skopeo push, aws CLI calls
 * and refused requests against a real Berth with an access-log file; every request is one line
 * with its facts, no credential of any kind appears anywhere in what the server wrote, a refusal
 * names what was refused, a manifest push names its pusher, and the format follows logFormat.
 */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rename } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const ROOT_ARN = 'arn:aws:iam::000000000000:root';
const REPO_ARN = 'arn:aws:ecr:us-east-1:000000000000:repository/logs/app';

type Line = Record<string, unknown>;

function jsonLines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

describe('the access log', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let dir: string;
  let accessLogPath: string;
  let admin: Credentials;
  /** Every credential the clients used: none may appear in anything the server wrote. */
  const secrets: Array<[string, string]> = [];

  const accessLines = async () => jsonLines(await readFile(accessLogPath, 'utf8').catch(() => ''));
  const stdoutLines = () => jsonLines(berth.output());
  /** The server's standard output, once it holds a line that `has` accepts (the log is written in batches). */
  const stdoutOnce = (what: string, has: (lines: Line[]) => boolean) =>
    waitFor(what, () => {
      const lines = stdoutLines();
      return has(lines) && lines;
    });
  /** The access lines, once one exists for every request id given. */
  const linesFor = (ids: string[]) =>
    waitFor(`access lines for ${ids.join(', ')}`, async () => {
      const lines = await accessLines();
      return ids.every((id) => lines.some((l) => l.requestId === id)) && lines;
    });

  before(async () => {
    dir = await tempDir('berth-access-log-');
    accessLogPath = join(dir, 'logs', 'access.log');
    berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info', BERTH_ACCESS_LOG: accessLogPath } });
    skopeo = await createSkopeo();
    admin = adminCredentials(berth);
    const password = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    secrets.push(['admin secret key', admin.secretAccessKey], ['login token', password], ['Basic credentials', berth.authorization.replace(/^Basic /, '')]);
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
  });

  it('logs each request once with its facts, and never a credential', async () => {
    // A skopeo push (blob uploads and a manifest PUT with the login token).
    const layout = join(dir, 'image');
    const built = await buildImageLayout(layout, { layers: 2, layerBytes: 50_000, tag: 'v1' });
    await skopeo.copy(`oci:${layout}:v1`, `docker://${berth.host}/logs/app:v1`);

    // An aws CLI call, whose SigV4 signature is read from the CLI's own debug output.
    const cli = await run('aws', ['ecr', 'describe-repositories', '--debug', '--output', 'json'], { env: awsCliEnv(berth) });
    const signature = /Signature=([0-9a-f]{64})/.exec(cli.stderr)?.[1];
    assert.ok(signature, 'the aws CLI debug output shows the request signature');
    secrets.push(['SigV4 signature', signature]);
    const cliRequestId = /x-amzn-RequestId['"]?:\s*['"]?([0-9a-f-]{36})/i.exec(cli.stderr)?.[1];
    assert.ok(cliRequestId, 'the aws CLI saw an x-amzn-RequestId header');

    // Query secrets in a URL (a presigned request's shape) are redacted.
    const presignedish = await fetch(
      `${berth.url}/v2/?X-Amz-Signature=sig0123456789abcdef&X-Amz-Credential=AKIACREDENTIAL0000%2F20260101&X-Amz-Security-Token=sessiontok3n&token=bearertok3n&n=5`,
    );
    await presignedish.arrayBuffer();
    secrets.push(
      ['query signature', 'sig0123456789abcdef'],
      ['query credential', 'AKIACREDENTIAL0000'],
      ['query session token', 'sessiontok3n'],
      ['query token', 'bearertok3n'],
    );

    // A login put in the token endpoint's query (no client does; a script might): never logged, in the
    // access line or anywhere (the final test checks the whole output for the login token).
    const login = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    const tokenQuery = await fetch(
      `${berth.url}/token?service=${berth.host}&username=AWS&password=${encodeURIComponent(login)}&scope=repository:logs/app:pull`,
    );
    await tokenQuery.arrayBuffer();

    // Three plain requests: one line each, found by the id the answer carried.
    const ids: string[] = [];
    for (const path of ['/healthz', '/v2/logs/app/tags/list', '/v2/nope/manifests/v1']) {
      const r = await fetch(`${berth.url}${path}`, { headers: { Authorization: berth.authorization } });
      await r.arrayBuffer();
      const id = r.headers.get('x-amzn-requestid');
      assert.match(id ?? '', /^[0-9a-f-]{36}$/, `${path} answers with a request id`);
      ids.push(id!);
    }
    const lines = await linesFor([...ids, cliRequestId, presignedish.headers.get('x-amzn-requestid')!, tokenQuery.headers.get('x-amzn-requestid')!]);
    const token = lines.find((l) => l.requestId === tokenQuery.headers.get('x-amzn-requestid'))!;
    assert.match(String(token.path), /^\/token\?service=[^&]+&username=AWS&password=REDACTED&scope=repository:logs\/app:pull$/);

    for (const id of ids) assert.equal(lines.filter((l) => l.requestId === id).length, 1, `one line for request ${id}`);
    const tags = lines.find((l) => l.requestId === ids[1])!;
    assert.equal(tags.method, 'GET');
    assert.equal(tags.path, '/v2/logs/app/tags/list');
    assert.equal(tags.status, 200);
    assert.equal(tags.principal, ROOT_ARN);
    assert.equal(tags.sourceIp, '127.0.0.1');
    assert.equal(tags.bytesReceived, 0);
    assert.ok(typeof tags.bytesSent === 'number' && tags.bytesSent > 0, 'bytes sent counted');
    assert.ok(typeof tags.ms === 'number' && tags.ms >= 0, 'duration logged');
    assert.equal(lines.find((l) => l.requestId === ids[2])!.status, 404);
    const anonymous = lines.find((l) => l.requestId === presignedish.headers.get('x-amzn-requestid'))!;
    assert.equal(anonymous.principal, 'anonymous');
    assert.match(String(anonymous.path), /X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&token=REDACTED&n=5$/);

    const described = lines.find((l) => l.requestId === cliRequestId)!;
    assert.equal(described.operation, 'DescribeRepositories');
    assert.equal(described.principal, ROOT_ARN);
    assert.equal(described.status, 200);

    // The push: its blob uploads counted as bytes received, its manifest PUT by the admin.
    const manifestPut = lines.find((l) => l.method === 'PUT' && l.path === '/v2/logs/app/manifests/v1');
    assert.ok(manifestPut, 'the manifest PUT is logged');
    assert.equal(manifestPut.status, 201);
    assert.equal(manifestPut.principal, ROOT_ARN);
    assert.equal(manifestPut.bytesReceived, built.manifestSize);
    const uploaded = lines.filter((l) => l.method === 'PUT' || l.method === 'PATCH').reduce((n, l) => n + Number(l.bytesReceived), 0);
    assert.ok(uploaded >= built.layers.reduce((n, l) => n + l.size, 0), 'layer bytes received are counted');

    // Every line has every field; the same lines reach standard output.
    for (const l of lines) {
      for (const k of ['requestId', 'method', 'path', 'status', 'bytesSent', 'bytesReceived', 'ms', 'principal', 'sourceIp', 'protocol']) {
        assert.ok(l[k] !== undefined, `${k} in ${JSON.stringify(l)}`);
      }
    }
    const out = (await stdoutOnce('the request lines on stdout', (ls) => ids.every((id) => ls.some((l) => l.requestId === id)))).filter(
      (l) => l.msg === 'request',
    );
    for (const id of ids) assert.equal(out.filter((l) => l.requestId === id).length, 1, `one stdout line for request ${id}`);

    // The manifest pushed line names the pusher.
    const pushed = (await stdoutOnce('a manifest pushed line', (ls) => ls.some((l) => l.msg === 'manifest pushed'))).find(
      (l) => l.msg === 'manifest pushed' && l.repository === 'logs/app',
    );
    assert.ok(pushed, 'a manifest pushed line');
    assert.equal(pushed.pushedBy, ROOT_ARN);
    assert.equal(pushed.reference, 'v1');
    assert.equal(pushed.digest, built.manifestDigest);
  });

  it('names the refused action and resource of a denied request, on both doors', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'outsider' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'outsider',
        PolicyName: 'login-only',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'outsider' }))).AccessKey!;
    const creds = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    secrets.push(['user secret key', creds.secretAccessKey]);
    const userArn = 'arn:aws:iam::000000000000:user/outsider';

    // The JSON API: aws ecr describe-images, refused.
    const refused = await run('aws', ['ecr', 'describe-images', '--repository-name', 'logs/app', '--debug'], { env: awsCliEnv(berth, creds) }).then(
      () => assert.fail('describe-images was allowed'),
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(refused, /AccessDeniedException/);
    const cliId = /x-amzn-RequestId['"]?:\s*['"]?([0-9a-f-]{36})/i.exec(refused)?.[1];
    assert.ok(cliId, 'the refusal carries a request id');

    // /v2: a manifest GET with the user's login token, refused.
    const token = (await ecrClient(berth, creds).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    secrets.push(['user login token', Buffer.from(token, 'base64').toString().replace(/^AWS:/, '')], ['user Basic credentials', token]);
    const r = await fetch(`${berth.url}/v2/logs/app/manifests/v1`, { headers: { Authorization: `Basic ${token}` } });
    await r.arrayBuffer();
    assert.equal(r.status, 403);
    const v2Id = r.headers.get('x-amzn-requestid')!;

    const lines = await linesFor([cliId, v2Id]);
    const json = lines.find((l) => l.requestId === cliId)!;
    assert.equal(json.principal, userArn);
    assert.equal(json.deniedAction, 'ecr:DescribeImages');
    assert.equal(json.deniedResource, REPO_ARN);
    const v2 = lines.find((l) => l.requestId === v2Id)!;
    assert.equal(v2.principal, userArn);
    assert.equal(v2.status, 403);
    assert.equal(v2.deniedAction, 'ecr:BatchGetImage');
    assert.equal(v2.deniedResource, REPO_ARN);
  });

  it('logs a request whose client went away before any answer as 499, aborted: never as the 200 Node starts with', async () => {
    // A manifest PUT that announces 1,000 bytes, sends 10 and hangs up: Berth is still reading the body, so nothing was answered.
    const tag = `abandoned-${process.pid}`;
    const { hostname, port } = new URL(berth.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PUT /v2/logs/app/manifests/${tag} HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\n` +
            'Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n{"schemaVe',
          () => setImmediate(() => socket.destroy()),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const line = await waitFor('the abandoned PUT in the access log', async () =>
      (await accessLines()).find((l) => l.path === `/v2/logs/app/manifests/${tag}`),
    );
    assert.deepEqual([line.method, line.status, line.aborted, line.principal], ['PUT', 499, true, ROOT_ARN]);
    const tags = await fetch(`${berth.url}/v2/logs/app/tags/list`, { headers: { Authorization: berth.authorization } });
    assert.ok(!((await tags.json()) as { tags: string[] }).tags.includes(tag), 'nothing was tagged');
  });

  it('never writes a credential, in the access log or on standard output', async () => {
    // Runs last: the secrets of the tests above are all collected.
    await berth.stop();
    const everything = (await readFile(accessLogPath, 'utf8')) + berth.output();
    assert.ok(secrets.length >= 9, 'the earlier tests collected their credentials');
    for (const [what, value] of secrets) assert.ok(!everything.includes(value), `the ${what} appears in the server's output`);
    assert.doesNotMatch(everything, /AWS4-HMAC-SHA256|Basic [A-Za-z0-9+/=]{8,}/, 'no Authorization header value');
  });
});

describe('the access-log file under logrotate', () => {
  let berth: BerthProcess;
  after(async () => {
    await berth?.cleanup();
  });

  it('starts a new file at the same path on SIGHUP, after the old one was moved away', async () => {
    const dir = await tempDir('berth-access-rotate-');
    const path = join(dir, 'access.log');
    berth = await startBerth({ env: { BERTH_ACCESS_LOG: path } });
    const request = async (): Promise<string> => {
      const r = await fetch(`${berth.url}/healthz`);
      await r.arrayBuffer();
      return r.headers.get('x-amzn-requestid')!;
    };
    const idsIn = async (file: string) => jsonLines(await readFile(file, 'utf8').catch(() => '')).map((l) => l.requestId);

    const before = await request();
    await waitFor('the first line in the access log', async () => (await idsIn(path)).includes(before));
    await rename(path, `${path}.1`);
    berth.child.kill('SIGHUP');
    // A request after the signal lands in a new file at the configured path, and the server lives on.
    const after = await waitFor('a new access log at the configured path', async () => {
      const id = await request();
      return (await idsIn(path)).length > 0 && id;
    });
    const fresh = await waitFor('the request in the new file', async () => {
      const ids = await idsIn(path);
      return ids.includes(after) && ids;
    });
    assert.ok(!fresh.includes(before), 'the line written before the rotation stays in the old file');
    const rotated = await idsIn(`${path}.1`);
    assert.ok(rotated.includes(before), 'the rotated file keeps its lines');
    assert.ok(!rotated.includes(after), 'nothing written after the signal goes to the rotated file');
  });
});

describe('the log format', () => {
  const started: BerthProcess[] = [];
  after(async () => {
    for (const b of started) await b.cleanup();
  });

  async function healthLine(format: string | undefined): Promise<{ berth: BerthProcess; line: string }> {
    const berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info', ...(format !== undefined && { BERTH_LOG_FORMAT: format }) } });
    started.push(berth);
    const r = await fetch(`${berth.url}/healthz`);
    await r.arrayBuffer();
    const id = r.headers.get('x-amzn-requestid')!;
    const line = await waitFor('the access line', () =>
      berth
        .output()
        .split('\n')
        .find((l) => l.includes(id)),
    );
    return { berth, line };
  }

  it('is readable lines with BERTH_LOG_FORMAT=pretty', async () => {
    const { berth, line } = await healthLine('pretty');
    assert.throws(() => JSON.parse(line), 'not JSON');
    assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO +GET \/healthz HTTP\/1\.1 200 [\d.]+ms out=\d+B in=0B anonymous 127\.0\.0\.1 id=[0-9a-f-]{36}$/);
    assert.match(berth.output(), /^\d\d:\d\d:\d\d\.\d{3} INFO +ready on http:\/\/127\.0\.0\.1:\d+ url=http:\/\/127\.0\.0\.1:\d+ /m);
  });

  it('is pino JSON with BERTH_LOG_FORMAT=json, and by default when stdout is not a terminal', async () => {
    for (const format of ['json', undefined]) {
      const { berth, line } = await healthLine(format);
      const entry = JSON.parse(line) as Line;
      assert.equal(entry.msg, 'request');
      assert.equal(entry.level, 30);
      assert.equal(entry.path, '/healthz');
      for (const l of berth
        .output()
        .split('\n')
        .filter((s) => s !== ''))
        JSON.parse(l);
    }
  });
});
