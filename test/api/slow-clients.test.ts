/**
 * Slow and idle clients are cut off (issue #12, point 9): a trickling body, a silent connection,
 * half a request's headers; an unauthenticated JSON-API body is refused before it is read; and
 * with 2,000 such connections open, ordinary requests are still answered. Raw sockets, since no
 * HTTP client misbehaves on purpose, against the real app in process (its http.Server is the one
 * `berth serve` runs). Bounds are "closed within a generous time", never latencies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { openRaw, within, write, type RawConnection } from '../e2e/helpers/raw-socket.js';
import { request, startUpload } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories';
/** Far above any configured bound below: reaching it means the server never cut the client. */
const NEVER_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function requestHead(berth: Pick<BerthInProcess, 'host'>, lines: string[]): string {
  return [...lines.slice(0, 1), `Host: ${berth.host}`, ...lines.slice(1)].join('\r\n') + '\r\n\r\n';
}

/** Sends one byte every `everyMs` until the socket closes or `max` bytes went; returns how many went. */
async function trickle(c: RawConnection, everyMs: number, max: number): Promise<number> {
  let sent = 0;
  while (sent < max && !c.isClosed()) {
    if (!(await write(c.socket, 'x'))) break;
    sent++;
    await Promise.race([sleep(everyMs), c.closed]);
  }
  return sent;
}

describe('slow clients are cut off', () => {
  let berth: BerthInProcess;

  before(async () => {
    berth = await startInProcess({
      env: {
        // Node's headersTimeout clock starts when a connection is accepted and answers 408 when
        // it runs out; a longer one than the idle timeout lets the idle timer (which closes
        // silently) always fire first on a connection that never sends a byte.
        BERTH_HEADERS_TIMEOUT_SECONDS: '3',
        BERTH_IDLE_TIMEOUT_SECONDS: '2',
        BERTH_BODY_TIMEOUT_SECONDS: '2',
        // 64 bytes per 2-second window: a byte every half second falls short, any real upload does not.
        BERTH_BODY_MIN_BYTES_PER_SECOND: '32',
      },
    });
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('closes an upload whose body trickles, and keeps the session usable', async () => {
    const location = new URL(await startUpload(berth.url, 'slow/trickle'));
    const c = await openRaw(berth.port);
    await write(
      c.socket,
      requestHead(berth, [
        `PATCH ${location.pathname}${location.search} HTTP/1.1`,
        `Authorization: ${berth.authorization}`,
        'Content-Type: application/octet-stream',
        'Content-Length: 1000',
      ]),
    );
    const sent = await within(trickle(c, 500, 1000), NEVER_MS, 'a trickling body was not cut');
    await within(c.closed, NEVER_MS, 'close');
    assert.ok(sent < 1000, `the whole body went through (${sent} bytes)`);
    assert.equal(c.received(), '', 'a cut body gets no answer, the connection just closes');
    // The server is fine and the session still answers.
    const status = await request(location.toString());
    assert.equal(status.status, 204);
  });

  it('lets a steady upload take longer than the window', async () => {
    const location = new URL(await startUpload(berth.url, 'slow/steady'));
    const c = await openRaw(berth.port);
    const size = 48 * 1024;
    await write(
      c.socket,
      requestHead(berth, [
        `PATCH ${location.pathname}${location.search} HTTP/1.1`,
        `Authorization: ${berth.authorization}`,
        'Content-Type: application/octet-stream',
        `Content-Length: ${size}`,
      ]),
    );
    // 1 KiB every 100 ms: about 5 s in all, over two windows, at 10 KiB/s.
    for (let sent = 0; sent < size; sent += 1024) {
      assert.ok(await write(c.socket, Buffer.alloc(1024, 7)), `cut after ${sent} bytes`);
      await sleep(100);
    }
    const head = await within(c.head, NEVER_MS, 'answer');
    assert.match(head, /^HTTP\/1\.1 202 /);
    assert.match(head, /\r\nrange: 0-49151\r\n/i);
    c.socket.destroy();
  });

  it('closes a connection that never sends a byte', async () => {
    const c = await openRaw(berth.port);
    await within(c.closed, NEVER_MS, 'a silent connection was not closed');
    assert.equal(c.received(), '');
  });

  it('closes a connection whose headers never end', async () => {
    const c = await openRaw(berth.port);
    await write(c.socket, `GET /v2/ HTTP/1.1\r\nHost: ${berth.host}\r\n`);
    await within(c.closed, NEVER_MS, 'half a request was not cut');
  });

  it('closes a kept-alive connection that sends no next request', async () => {
    const c = await openRaw(berth.port);
    await write(c.socket, requestHead(berth, ['GET /healthz HTTP/1.1']));
    assert.match(await within(c.head, NEVER_MS, 'answer'), /^HTTP\/1\.1 200 /);
    await within(c.closed, NEVER_MS, 'an idle kept-alive connection was not closed');
  });

  for (const [what, auth, status, type] of [
    ['no credentials', [], 403, 'MissingAuthenticationTokenException'],
    [
      'an unknown access key',
      // Well-formed but for the key (a malformed Authorization is IncompleteSignature first).
      [
        'X-Amz-Date: 20260101T000000Z',
        'Authorization: AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNKEY000000/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00',
      ],
      400,
      'UnrecognizedClientException',
    ],
  ] as const) {
    it(`refuses a large JSON-API body with ${what} before reading it (Content-Length)`, async () => {
      const c = await openRaw(berth.port);
      await write(
        c.socket,
        requestHead(berth, [
          'POST / HTTP/1.1',
          `X-Amz-Target: ${ECR_TARGET}`,
          'Content-Type: application/x-amz-json-1.1',
          ...auth,
          `Content-Length: ${30 * 1024 * 1024}`,
        ]),
      );
      await write(c.socket, Buffer.alloc(16 * 1024, 0x20));
      // The answer comes while almost all of the declared 30 MiB is still unsent.
      const head = await within(c.head, NEVER_MS, 'no answer before the body was sent');
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(head, new RegExp(`\r\nx-amzn-errortype: ${type}`, 'i'));
      await within(c.closed, NEVER_MS, 'close');
      c.socket.destroy();
    });

    it(`refuses a large JSON-API body with ${what} after a bounded read (chunked)`, async () => {
      const c = await openRaw(berth.port);
      await write(
        c.socket,
        requestHead(berth, [
          'POST / HTTP/1.1',
          `X-Amz-Target: ${ECR_TARGET}`,
          'Content-Type: application/x-amz-json-1.1',
          ...auth,
          'Transfer-Encoding: chunked',
        ]),
      );
      const chunk = 256 * 1024;
      await write(c.socket, `${chunk.toString(16)}\r\n${' '.repeat(chunk)}\r\n`);
      // No last chunk: a server that waited for the end of the body would never answer.
      const head = await within(c.head, NEVER_MS, 'no answer to an unfinished oversized body');
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(head, new RegExp(`\r\nx-amzn-errortype: ${type}`, 'i'));
      c.socket.destroy();
    });
  }

  it('still answers a small unauthenticated JSON-API request with the authentication error', async () => {
    const res = await fetch(berth.url, {
      method: 'POST',
      headers: { 'X-Amz-Target': ECR_TARGET, 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
  });

  it('refuses an anonymous /v2 upload body before reading it', async () => {
    const c = await openRaw(berth.port);
    await write(
      c.socket,
      requestHead(berth, [
        'POST /v2/slow/anon/blobs/uploads/?digest=sha256:' + '0'.repeat(64) + ' HTTP/1.1',
        'Content-Type: application/octet-stream',
        `Content-Length: ${30 * 1024 * 1024}`,
      ]),
    );
    const head = await within(c.head, NEVER_MS, 'no answer before the body was sent');
    assert.match(head, /^HTTP\/1\.1 401 /);
    c.socket.destroy();
  });
});

describe('with 2,000 slow connections open', () => {
  let berth: BerthInProcess;
  const conns: RawConnection[] = [];

  before(async () => {
    // Default limits: the slow connections stay open for the whole test.
    berth = await startInProcess();
  });
  after(async () => {
    for (const c of conns) c.socket.destroy();
    await berth?.cleanup();
  });

  it('answers a /v2 GET with a token and an ECR call', async () => {
    const ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'slow/busy' }));
    const kinds = [
      (): string => '',
      (): string => `GET /v2/ HTTP/1.1\r\nHost: ${berth.host}\r\n`,
      (): string => requestHead(berth, ['POST / HTTP/1.1', `X-Amz-Target: ${ECR_TARGET}`, 'Content-Length: 1000']) + '{',
    ];
    for (let i = 0; i < 2000; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => openRaw(berth.port)));
      await Promise.all(batch.map((c, j) => write(c.socket, kinds[(i + j) % kinds.length]!())));
      conns.push(...batch);
    }
    const tags = await request(`${berth.url}/v2/slow/busy/tags/list`);
    assert.equal(tags.status, 200);
    assert.deepEqual(JSON.parse(tags.body.toString()), { name: 'slow/busy', tags: [] });
    const repos = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['slow/busy'] }));
    assert.equal(repos.repositories?.[0]?.repositoryName, 'slow/busy');
    const open = conns.filter((c) => !c.isClosed()).length;
    assert.equal(open, 2000, 'the slow connections were still open while the requests were answered');
  });
});

describe('maxConnections', () => {
  const LIMIT = 4;
  let berth: BerthInProcess;
  const conns: RawConnection[] = [];

  before(async () => {
    berth = await startInProcess({ env: { BERTH_MAX_CONNECTIONS: String(LIMIT) } });
  });
  after(async () => {
    for (const c of conns) c.socket.destroy();
    await berth?.cleanup();
  });

  it('closes connections beyond the bound as they arrive, and serves again once some are gone', async () => {
    // Each connection asks for /healthz: one held is answered, one beyond the bound closes unanswered.
    for (let i = 0; i < LIMIT + 2; i++) {
      const c = await openRaw(berth.port);
      conns.push(c);
      await write(c.socket, requestHead(berth, ['GET /healthz HTTP/1.1']));
      await within(Promise.race([c.head, c.closed]), NEVER_MS, 'neither answered nor closed');
    }
    const answered = conns.filter((c) => /^HTTP\/1\.1 200 /.test(c.received())).length;
    const dropped = conns.filter((c) => c.isClosed() && c.received() === '').length;
    assert.ok(answered <= LIMIT, `${answered} connections answered`);
    assert.ok(dropped >= 2, `${dropped} connections closed unanswered`);
    for (const c of conns) c.socket.destroy();
    // The server counts a connection out once it has seen it close: ask until one is let in.
    let status = 0;
    while (status !== 200) {
      const c = await openRaw(berth.port);
      await write(c.socket, requestHead(berth, ['GET /healthz HTTP/1.1']));
      await within(Promise.race([c.head, c.closed]), NEVER_MS, 'neither answered nor closed');
      status = /^HTTP\/1\.1 200 /.test(c.received()) ? 200 : 0;
      c.socket.destroy();
    }
  });
});
