/**
 * HTTP/2 on the HTTPS port: one port offers ALPN `h2` and `http/1.1`, each client gets what it
 * asks for, and everything works the same over both (uploads in several PATCHes, range GETs,
 * HEAD, Location headers, error bodies, the SigV4-signed JSON API, aws:SecureTransport). The
 * access log says which protocol each request used. A certificate rotated while an h2 session is
 * open leaves that session working. Hostile h2 input is bounded: streams beyond the configured
 * limit are refused, oversize headers reset, a stalled body reset alone, an idle session closed
 * (PINGs do not keep it), and shutdown sends GOAWAY.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as h2connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { h2request } from './helpers/h2-push.js';
import { sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const MAX_STREAMS = 4;
const MAX_HEADER_BYTES = 8192;
const IDLE_SECONDS = 2;

/** Waits for a stream to be reset, and says with which code. */
function resetCode(stream: ReturnType<ClientHttp2Session['request']>): Promise<number> {
  return new Promise((resolve) => {
    stream.on('error', () => undefined);
    stream.resume();
    if (stream.destroyed) resolve(stream.rstCode ?? -1);
    else stream.on('close', () => resolve(stream.rstCode ?? -1));
  });
}

describe('HTTP/2 on the HTTPS port', () => {
  let work: string;
  let pki: string;
  let accessLog: string;
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let ca: Buffer;
  const sessions: ClientHttp2Session[] = [];

  const tlsInit = () => run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1']);
  const open = (opts: { peerMaxConcurrentStreams?: number } = {}): Promise<ClientHttp2Session> =>
    new Promise((resolve, reject) => {
      const s = h2connect(berth.url, { ca, ...opts });
      sessions.push(s);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  /** The access log's lines, parsed. */
  const logLines = (): Array<Record<string, unknown>> =>
    readFileSync(accessLog, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const auth = () => ({ authorization: berth.authorization });

  before(async () => {
    work = await tempDir('berth-h2-');
    pki = join(work, 'pki');
    accessLog = join(work, 'access.log');
    await tlsInit();
    ca = readFileSync(join(pki, 'ca.crt'));
    berth = await startBerth({
      ca: join(pki, 'ca.crt'),
      args: [
        ...['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key'), '--access-log', accessLog],
        ...['--http2-max-concurrent-streams', String(MAX_STREAMS), '--max-header-bytes', String(MAX_HEADER_BYTES)],
        ...['--idle-timeout-seconds', String(IDLE_SECONDS), '--headers-timeout-seconds', String(IDLE_SECONDS), '--body-timeout-seconds', '1'],
      ],
    });
    skopeo = await createSkopeo();
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('curl gets h2 with --http2 and HTTP/1.1 with --http1.1 on the same port, and the access log says which', async () => {
    const curl = async (flag: string, path: string) => {
      const { stdout } = await run('curl', [
        '-sS',
        '-i',
        flag,
        '--cacert',
        join(pki, 'ca.crt'),
        '-H',
        `Authorization: ${berth.authorization}`,
        `${berth.url}${path}`,
      ]);
      const [head = '', body = ''] = stdout.split(/\r\n\r\n/, 2);
      return { head, body };
    };
    const h2 = await curl('--http2', '/v2/');
    assert.match(h2.head, /^HTTP\/2 200/);
    // Connection-specific headers are forbidden on h2; Berth's error paths set Connection on HTTP/1.1 only.
    assert.doesNotMatch(h2.head, /^(connection|keep-alive|transfer-encoding):/im);
    const h1 = await curl('--http1.1', '/v2/');
    assert.match(h1.head, /^HTTP\/1\.1 200/);
    // Unauthenticated, the challenge's token realm is on the host the client addressed (h2's :authority), over HTTPS.
    const { stdout: challenge } = await run('curl', ['-sS', '-i', '--http2', '--cacert', join(pki, 'ca.crt'), `${berth.url}/v2/`]);
    assert.match(challenge, /^HTTP\/2 401/);
    assert.match(challenge, new RegExp(`^www-authenticate: Bearer realm="https://${berth.host}/token",service="${berth.host}"\r?$`, 'm'));
    // An error body is the same on both.
    const missing = '/v2/h2/none/manifests/v1';
    const e2 = await curl('--http2', missing);
    const e1 = await curl('--http1.1', missing);
    assert.match(e2.head, /^HTTP\/2 404/);
    assert.match(e1.head, /^HTTP\/1\.1 404/);
    assert.deepEqual(JSON.parse(e2.body), JSON.parse(e1.body));
    assert.equal((JSON.parse(e2.body) as { errors: Array<{ code: string }> }).errors[0]!.code, 'NAME_UNKNOWN');
    const bytes = await waitFor('the error lines', () => {
      const sent = logLines()
        .filter((l) => l.path === missing)
        .map((l) => l.bytesSent);
      return sent.length === 2 && sent;
    });
    // Bytes are counted once on both (h2's response writes end()'s chunk through write()).
    assert.deepEqual(bytes, [Buffer.byteLength(e2.body), Buffer.byteLength(e1.body)]);
    const protocols = await waitFor('the four lines', () => {
      const lines = logLines().filter((l) => l.path === missing || (l.path === '/v2/' && l.status === 200));
      return lines.length >= 4 && lines.map((l) => `${String(l.path)} ${String(l.protocol)}`);
    });
    assert.deepEqual(protocols.sort(), ['/v2/ HTTP/1.1', '/v2/ HTTP/2', `${missing} HTTP/1.1`, `${missing} HTTP/2`]);
  });

  it('an h2 client uploads in several PATCHes (streamed and ranged), a closing PUT with a body and a monolithic POST, and reads them back with HEAD and range GETs, on one session', async () => {
    const session = await open();
    assert.equal((session.socket as TLSSocket).alpnProtocol, 'h2');
    const repo = 'h2/chunked';
    const parts = [Buffer.alloc(300_000, 1), Buffer.alloc(200_000, 2), Buffer.alloc(100_001, 3)];
    const blob = Buffer.concat(parts);
    const digest = sha256(blob);

    const started = await h2request(session, { ':method': 'POST', ':path': `/v2/${repo}/blobs/uploads/`, ...auth() });
    assert.equal(started.status, 202);
    assert.equal(started.headers.range, '0-0');
    let location = String(started.headers.location);
    assert.match(location, new RegExp(`^/v2/${repo}/blobs/uploads/`));
    assert.ok(started.headers['docker-upload-uuid']);

    // The first part streamed with no Content-Length, in several DATA frames: h2 has no chunked encoding.
    const first = await h2request(session, { ':method': 'PATCH', ':path': location, 'content-type': 'application/octet-stream', ...auth() }, [
      parts[0]!.subarray(0, 100_000),
      parts[0]!.subarray(100_000),
    ]);
    assert.equal(first.status, 202, first.body.toString());
    assert.equal(first.headers.range, `0-${parts[0]!.length - 1}`);
    location = String(first.headers.location);
    // The next parts with Content-Range and Content-Length, as the spec's chunked upload sends them.
    let offset = parts[0]!.length;
    for (const part of parts.slice(1, 2)) {
      const patched = await h2request(
        session,
        {
          ':method': 'PATCH',
          ':path': location,
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + part.length - 1}`,
          'content-length': part.length,
          ...auth(),
        },
        [part],
      );
      assert.equal(patched.status, 202, patched.body.toString());
      offset += part.length;
      assert.equal(patched.headers.range, `0-${offset - 1}`);
      location = String(patched.headers.location);
    }
    const status = await h2request(session, { ':method': 'GET', ':path': location, ...auth() });
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, `0-${offset - 1}`);
    // The last part in the closing PUT's body, streamed without Content-Length.
    const done = await h2request(session, { ':method': 'PUT', ':path': `${location}?digest=${encodeURIComponent(digest)}`, ...auth() }, [
      parts[2]!.subarray(0, 50_000),
      parts[2]!.subarray(50_000),
    ]);
    assert.equal(done.status, 201, done.body.toString());
    assert.equal(done.headers.location, `/v2/${repo}/blobs/${digest}`);
    assert.equal(done.headers['docker-content-digest'], digest);

    const head = await h2request(session, { ':method': 'HEAD', ':path': `/v2/${repo}/blobs/${digest}`, ...auth() });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), blob.length);
    assert.equal(head.body.length, 0);
    const range = await h2request(session, { ':method': 'GET', ':path': `/v2/${repo}/blobs/${digest}`, range: 'bytes=299990-300009', ...auth() });
    assert.equal(range.status, 206);
    assert.equal(range.headers['content-range'], `bytes 299990-300009/${blob.length}`);
    assert.deepEqual(range.body, blob.subarray(299_990, 300_010));
    const whole = await h2request(session, { ':method': 'GET', ':path': `/v2/${repo}/blobs/${digest}`, ...auth() });
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), digest);
    const unsatisfiable = await h2request(session, { ':method': 'GET', ':path': `/v2/${repo}/blobs/${digest}`, range: `bytes=${blob.length}-`, ...auth() });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers['content-range'], `bytes */${blob.length}`);
    for (const answer of [head, range, whole, unsatisfiable]) assert.equal(answer.headers['x-content-type-options'], 'nosniff', 'over h2 too');

    // A monolithic upload (POST with the digest and the whole body, unsized) of another blob.
    const small = Buffer.alloc(70_000, 9);
    const mono = await h2request(session, { ':method': 'POST', ':path': `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(sha256(small))}`, ...auth() }, [
      small.subarray(0, 30_000),
      small.subarray(30_000),
    ]);
    assert.equal(mono.status, 201, mono.body.toString());
    assert.equal(mono.headers.location, `/v2/${repo}/blobs/${sha256(small)}`);
    assert.equal(sha256((await h2request(session, { ':method': 'GET', ':path': `/v2/${repo}/blobs/${sha256(small)}`, ...auth() })).body), sha256(small));

    // Every one of these went over the one session, as HTTP/2 (the log file is written asynchronously).
    const lines = await waitFor('the upload in the access log', () => {
      const found = logLines().filter((l) => String(l.path).startsWith(`/v2/${repo}/`));
      return found.length >= 9 && found;
    });
    assert.deepEqual([...new Set(lines.map((l) => l.protocol))], ['HTTP/2']);
    assert.ok(!session.closed && !session.destroyed);
  });

  it('an early refusal of an h2 upload resets that stream alone (no Connection header); the session goes on', async () => {
    const session = await open();
    // An upload Berth refuses before reading (unknown session) and whose size is unknown: it is
    // answered, then the stream is reset with NO_ERROR so that the client stops sending.
    const stream = session.request({ ':method': 'PATCH', ':path': '/v2/h2/chunked/blobs/uploads/00000000-0000-4000-8000-000000000000', ...auth() });
    stream.write(Buffer.alloc(64 * 1024));
    const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve) =>
      stream.once('response', (h) => resolve({ status: Number(h[':status']), headers: h })),
    );
    assert.equal(answer.status, 404);
    assert.equal(answer.headers.connection, undefined);
    assert.equal(await resetCode(stream), constants.NGHTTP2_NO_ERROR);
    const after = await h2request(session, { ':method': 'GET', ':path': '/v2/', ...auth() });
    assert.equal(after.status, 200);
  });

  it('skopeo pushes and pulls over the HTTPS port that offers h2, trusting the generated CA', async (t) => {
    const layout = join(work, 'layout');
    const image = await buildImageLayout(layout, { layers: 2, layerBytes: 128 * 1024, tag: 'app' });
    const trust = join(pki, 'trust');
    await skopeo.run(['copy', '-q', '--dest-cert-dir', trust, `oci:${layout}:app`, `docker://${berth.host}/h2/skopeo:v1`]);
    await skopeo.run(['copy', '-q', '--src-cert-dir', trust, `docker://${berth.host}/h2/skopeo:v1`, `oci:${join(work, 'out')}:v1`]);
    const raw = (await skopeo.run(['inspect', '--raw', '--cert-dir', trust, `docker://${berth.host}/h2/skopeo:v1`])).stdout;
    assert.equal(raw, image.manifest.toString());
    // What skopeo negotiated is in the log. containers/image (skopeo ≤ 1.9 at least) builds its
    // own http.Transport without ForceAttemptHTTP2, so Go does not offer h2 there.
    const lines = logLines().filter((l) => String(l.path).startsWith('/v2/h2/skopeo/'));
    assert.ok(lines.some((l) => l.method === 'PUT' && l.status === 201));
    const protocols = new Set(lines.map((l) => l.protocol));
    for (const p of protocols) assert.ok(p === 'HTTP/2' || p === 'HTTP/1.1', String(p));
    t.diagnostic(`skopeo negotiated ${[...protocols].join(', ')}`);
  });

  it('the AWS SDK signs ECR JSON API calls over h2 (host is :authority), and the AWS CLI stays on HTTP/1.1', async () => {
    const handler = new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } });
    const ecr = new ECRClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1, requestHandler: handler });
    try {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'h2/sdk' }));
      const described = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['h2/sdk'] }));
      // The URI is built from the host the client addressed.
      assert.equal(described.repositories?.[0]?.repositoryUri, `${berth.host}/h2/sdk`);
      // A wrong secret is still refused over h2: the signature is checked, not skipped.
      const forged = new ECRClient({
        endpoint: berth.url,
        region: berth.region,
        credentials: { ...adminCredentials(berth), secretAccessKey: 'x'.repeat(40) },
        maxAttempts: 1,
        requestHandler: handler,
      });
      await assert.rejects(forged.send(new DescribeRepositoriesCommand({})), /signature/i);
    } finally {
      handler.destroy();
    }
    const cli = JSON.parse(
      (
        await run('aws', ['ecr', 'describe-repositories', '--repository-names', 'h2/sdk', '--ca-bundle', join(pki, 'ca.crt'), '--output', 'json'], {
          env: awsCliEnv(berth),
        })
      ).stdout,
    ) as { repositories: Array<{ repositoryName: string }> };
    assert.equal(cli.repositories[0]!.repositoryName, 'h2/sdk');
    // The trail names the caller's address for a call that came over h2 too: an h2 request no
    // longer reaches its socket once its stream has closed, so the address is read on arrival.
    await waitFor('the h2 CreateRepository in the trail', async () => {
      const { stdout } = await run(
        'aws',
        [
          'cloudtrail',
          'lookup-events',
          '--lookup-attributes',
          'AttributeKey=EventName,AttributeValue=CreateRepository',
          '--ca-bundle',
          join(pki, 'ca.crt'),
          '--output',
          'json',
        ],
        { env: awsCliEnv(berth) },
      );
      const events = (JSON.parse(stdout) as { Events: Array<{ CloudTrailEvent: string }> }).Events.map(
        (e) => JSON.parse(e.CloudTrailEvent) as Record<string, unknown>,
      );
      const created = events.find((e) => (e.requestParameters as { repositoryName?: string } | null)?.repositoryName === 'h2/sdk');
      if (!created) return false;
      assert.equal(created.sourceIPAddress, '127.0.0.1');
      return true;
    });
    // The log is written in batches: wait for the lines rather than read once.
    await waitFor('DescribeRepositories lines over both protocols', () => {
      const lines = logLines().filter((l) => l.operation === 'DescribeRepositories');
      return (
        lines.some((l) => l.protocol === 'HTTP/2' && l.status === 200) &&
        lines.some((l) => l.protocol === 'HTTP/2' && l.status !== 200) &&
        lines.some((l) => l.protocol === 'HTTP/1.1' && l.status === 200)
      );
    });
  });

  it('IAM, an ECR login and KMS over h2 with SigV4, and a /v2 pull over h2 meets aws:SecureTransport', async () => {
    const handler = new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } });
    const common = { endpoint: berth.url, region: berth.region, maxAttempts: 1, requestHandler: handler };
    try {
      const iam = new IAMClient({ ...common, credentials: adminCredentials(berth) });
      const policy = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage'],
            Resource: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'true' } },
          },
        ],
      };
      await iam.send(new CreateUserCommand({ UserName: 'h2-tls-only' }));
      await iam.send(new PutUserPolicyCommand({ UserName: 'h2-tls-only', PolicyName: 'tls', PolicyDocument: JSON.stringify(policy) }));
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'h2-tls-only' }))).AccessKey!;
      const user = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
      const data = (await new ECRClient({ ...common, credentials: user }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
      assert.equal(data.proxyEndpoint, `https://${berth.host}`, 'the endpoint a login is for is on the scheme it was asked over');
      const token = data.authorizationToken!;
      const session = await open();
      const head = await h2request(session, {
        ':method': 'HEAD',
        ':path': '/v2/h2/skopeo/manifests/v1',
        authorization: `Basic ${token}`,
        accept: 'application/vnd.oci.image.manifest.v1+json',
      });
      assert.equal(head.status, 200, 'the Allow conditioned on TLS applies to an h2 request');
      const kms = new KMSClient({ ...common, credentials: adminCredentials(berth) });
      const created = await kms.send(new CreateKeyCommand({ Description: 'over h2' }));
      assert.ok(created.KeyMetadata?.KeyId);
    } finally {
      handler.destroy();
    }
    const lines = await waitFor('the IAM and KMS lines', () => {
      const found = logLines().filter(
        (l) => l.path === '/' && l.method === 'POST' && ['CreateUser', 'PutUserPolicy', 'CreateAccessKey', 'CreateKey'].includes(String(l.operation)),
      );
      return found.length >= 4 && found;
    });
    assert.deepEqual([...new Set(lines.map((l) => `${String(l.protocol)} ${String(l.status)}`))], ['HTTP/2 200']);
  });

  it('a certificate rotated while an h2 session is open: the session keeps working, a new one sees the new certificate', async () => {
    const fingerprint = (s: ClientHttp2Session) => (s.socket as TLSSocket).getPeerCertificate().fingerprint256;
    const kept = await open();
    const first = fingerprint(kept);
    // The session is kept busy (never idle) while the files are replaced.
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const loop = (async () => {
      while (!stop) {
        const r = await h2request(kept, { ':method': 'GET', ':path': '/v2/', ...auth() }).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
        if (r.status === 200) served++;
        else failures.push(`${r.status} ${r.body.toString()}`);
      }
    })();
    try {
      await waitFor('requests on the kept session', () => served >= 3);
      await tlsInit();
      const next = new X509Certificate(readFileSync(join(pki, 'server.crt'))).fingerprint256;
      assert.notEqual(next, first);
      // tls init wrote the files in place of the served ones: Berth watches their directory.
      const fresh = await waitFor('a new session with the new certificate', async () => {
        const s = await open();
        if (fingerprint(s) === next) return s;
        s.close();
        return undefined;
      });
      assert.equal((fresh.socket as TLSSocket).alpnProtocol, 'h2');
      assert.equal((await h2request(fresh, { ':method': 'GET', ':path': '/v2/', ...auth() })).status, 200);
      const before = served;
      await waitFor('more requests on the kept session after the rotation', () => served >= before + 3);
      assert.equal(fingerprint(kept), first, 'the open session keeps the certificate it began with');
      // And a SIGHUP with nothing new changes nothing for the open session either.
      berth.child.kill('SIGHUP');
      const afterHup = served;
      await waitFor('requests after SIGHUP', () => served >= afterHup + 3);
    } finally {
      stop = true;
      await loop;
    }
    assert.deepEqual(failures, []);
    assert.ok(!kept.closed && !kept.destroyed);
  });

  it('refuses streams beyond the configured limit, and resets a request whose headers are too large', async () => {
    // Requests sent before the server's SETTINGS arrive, as a hostile client would send them:
    // the client is told to assume room for many.
    const session = h2connect(berth.url, { ca, peerMaxConcurrentStreams: 1000 });
    sessions.push(session);
    const streams = Array.from({ length: MAX_STREAMS + 3 }, () => {
      // A monolithic upload whose body never ends keeps its stream open.
      const s = session.request({ ':method': 'POST', ':path': `/v2/h2/hostile/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, ...auth() });
      s.write('x');
      s.on('error', () => undefined);
      return s;
    });
    const settings = await new Promise<{ maxConcurrentStreams?: number; maxHeaderListSize?: number; initialWindowSize?: number }>((resolve) =>
      session.once('remoteSettings', resolve),
    );
    assert.equal(settings.maxConcurrentStreams, MAX_STREAMS);
    assert.equal(settings.maxHeaderListSize, MAX_HEADER_BYTES);
    // Receive windows wider than the protocol's 64 KiB, so that uploads are not held to 64 KiB per round trip.
    assert.equal(settings.initialWindowSize, 1024 * 1024);
    await waitFor('the connection window', () => (session.state.remoteWindowSize ?? 0) >= 4 * 1024 * 1024 - 64 * 1024);
    const refused = await Promise.all(streams.slice(MAX_STREAMS).map(resetCode));
    assert.deepEqual(refused, [constants.NGHTTP2_REFUSED_STREAM, constants.NGHTTP2_REFUSED_STREAM, constants.NGHTTP2_REFUSED_STREAM]);
    for (const s of streams.slice(0, MAX_STREAMS)) s.close(constants.NGHTTP2_CANCEL);
    await Promise.all(streams.slice(0, MAX_STREAMS).map(resetCode));

    const big = session.request({ ':method': 'GET', ':path': '/v2/', ...auth(), 'x-padding': 'a'.repeat(MAX_HEADER_BYTES + 1) });
    big.end();
    assert.equal(await resetCode(big), constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // The session itself goes on: once the reset streams' handlers have returned (until then a
    // new stream is refused, REFUSED_STREAM, which clients retry).
    const served = await waitFor('a request served on the session', () =>
      h2request(session, { ':method': 'GET', ':path': '/v2/', ...auth() }).then(
        (r) => r.status,
        (e: { code?: string }) => (e.code === 'ERR_HTTP2_STREAM_ERROR' ? undefined : Promise.reject(e as Error)),
      ),
    );
    assert.equal(served, 200);
    // So does HTTP/1.1's bound: 431.
    const { stdout } = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--http1.1',
      '--cacert',
      join(pki, 'ca.crt'),
      '-H',
      `X-Padding: ${'a'.repeat(MAX_HEADER_BYTES + 1)}`,
      `${berth.url}/v2/`,
    ]);
    assert.equal(stdout, '431');
  });

  it('resets an h2 upload whose body stalls, leaving the rest of the session alone', async () => {
    const session = await open();
    const started = await h2request(session, { ':method': 'POST', ':path': '/v2/h2/stall/blobs/uploads/', ...auth() });
    assert.equal(started.status, 202);
    const stalled = session.request({ ':method': 'PATCH', ':path': String(started.headers.location), ...auth() });
    stalled.write(Buffer.alloc(1000));
    // Nothing more is sent: the minimum body rate (256 B/s over 1 s windows) is not met.
    assert.equal(await resetCode(stalled), constants.NGHTTP2_CANCEL);
    assert.equal((await h2request(session, { ':method': 'GET', ':path': '/v2/', ...auth() })).status, 200);
  });

  it('closes silent and half-sent connections on either protocol', async () => {
    /** A TLS connection that negotiates `alpn`, sends `send`, then nothing: resolves with what ALPN chose once the server closed it. */
    const closedBy = (alpn: string, send: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: berth.port, ca, ALPNProtocols: [alpn] }, () => {
          if (send !== '') socket.write(send);
        });
        socket.on('error', reject);
        socket.resume();
        socket.on('close', () => resolve(String(socket.alpnProtocol)));
      });
    const closed = await Promise.all([
      closedBy('http/1.1', ''),
      closedBy('http/1.1', `GET /v2/ HTTP/1.1\r\nHost: ${berth.host}\r\n`),
      closedBy('h2', ''),
      // The h2 preface and SETTINGS, then half a HEADERS frame that never completes.
      closedBy('h2', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x40\x01\x04\x00\x00\x00\x01'),
    ]);
    assert.deepEqual(closed, ['http/1.1', 'http/1.1', 'h2', 'h2']);
  });

  it('closes an idle session with GOAWAY, PINGs notwithstanding', async () => {
    const session = await open();
    assert.equal((await h2request(session, { ':method': 'GET', ':path': '/v2/', ...auth() })).status, 200);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    // Node's own session timer restarts on any frame; Berth's idle rule counts open streams.
    const pinger = setInterval(() => {
      if (!session.closed && !session.destroyed) session.ping(() => undefined);
    }, 200);
    try {
      assert.equal(await goaway, constants.NGHTTP2_NO_ERROR);
      await closed;
    } finally {
      clearInterval(pinger);
    }
  });

  it('shutdown sends GOAWAY to an open session and lets its request in flight finish', async () => {
    const session = await open();
    const started = await h2request(session, { ':method': 'POST', ':path': '/v2/h2/shutdown/blobs/uploads/', ...auth() });
    const data = Buffer.alloc(4096, 7);
    const upload = session.request({ ':method': 'PATCH', ':path': String(started.headers.location), 'content-length': data.length, ...auth() });
    upload.write(data.subarray(0, 1024));
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const answered = new Promise<number>((resolve) => upload.once('response', (h) => resolve(Number(h[':status']))));
    // Frames are handled in order: once a later request is answered, the upload is under way.
    assert.equal((await h2request(session, { ':method': 'GET', ':path': '/v2/', ...auth() })).status, 200);
    berth.child.kill('SIGTERM');
    assert.equal(await goaway, constants.NGHTTP2_NO_ERROR);
    upload.end(data.subarray(1024));
    assert.equal(await answered, 202);
    upload.resume();
    await waitFor('the server gone', () => berth.child.exitCode !== null || berth.child.signalCode !== null);
  });
});
