/**
 * AWS's SigV4 test suite (src/auth/testing/sigv4-suite.ts) sent byte for byte over HTTP/1.1 to
 * a node:http server that reads each request as Berth's authenticator does (sigV4Headers) and
 * verifies it: what node:http does to a request on the way in (repeated headers joined with
 * ', ', some kept only once) must not change what was signed. The suite's credentials and 2015
 * date are not ones the app can hold, so this server stands in for it; the app's own door is
 * in sigv4-requests.test.ts. Cases node:http cannot receive as written (a raw space or UTF-8 in
 * the request line, a folded header) are checked in src/auth/sigv4.suite.test.ts only.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../../src/auth/errors.js';
import { sha256Hex, splitUrl, verifySigV4 } from '../../src/auth/sigv4.js';
import { HEADER_CASES, QUERY_CASES, SUITE, type SuiteCase } from '../../src/auth/testing/sigv4-suite.js';
import { sigV4Headers } from '../../src/http/authn.js';

let server: Server;
let port: number;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { path, rawQuery } = splitUrl(req.url ?? '/');
      const headers = sigV4Headers(req);
      let answer: string;
      try {
        answer = verifySigV4({
          method: req.method ?? 'GET',
          path,
          rawQuery,
          headers,
          bodySha256Hex: sha256Hex(Buffer.concat(chunks)),
          secretAccessKey: SUITE.secretAccessKey,
          now: SUITE.now,
          uriEscapePath: req.headers['x-test-unnormalized'] === undefined,
          allowUnsignedPayload: true,
        }).accessKeyId;
      } catch (e) {
        assert.ok(e instanceof AuthError, String(e));
        answer = `${e.reason}: ${e.message}`;
      }
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The suite's text as wire bytes (CRLF), with an unsigned marker header for S3-style cases. */
function send(c: SuiteCase): Promise<string> {
  const end = c.request.indexOf('\n\n');
  const body = c.request.slice(end + 2);
  const head = [c.request.slice(0, end)];
  if (c.unnormalized) head.push('X-Test-Unnormalized: 1');
  if (body !== '' && !/\ncontent-length:/i.test(head[0]!)) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  head.push('Connection: close');
  const raw = `${head.join('\n').replace(/\n/g, '\r\n')}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    socket.end(raw);
  });
}

for (const [title, cases] of [
  ['header', HEADER_CASES],
  ['presigned', QUERY_CASES],
] as const) {
  describe(`the AWS SigV4 test suite over HTTP/1.1 (${title})`, () => {
    for (const c of cases.filter((one) => one.wire !== false)) {
      it(c.name, async () => {
        const answer = await send(c);
        assert.match(answer, /^HTTP\/1\.1 200 /, answer);
        assert.equal(answer.slice(answer.indexOf('\r\n\r\n') + 4), SUITE.accessKeyId);
      });
    }
  });
}
