/**
 * The bench's Node-client pull runs in a process of its own (pull-client.ts): against a real HTTP
 * server it must count every body byte of every blob, send the server's login headers, report
 * the client's own CPU, and fail on an answer that is not 200 rather than count an error page.
 * Its reused-buffer reader (reused-buffer-get.ts) parses the answer itself: the same, and it must
 * refuse what it cannot count (a body without Content-Length, a connection cut short).
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import { after, before, test } from 'node:test';
import { pullBlobsApart } from './http-client.js';
import type { Server } from './servers.js';

const BLOB = Buffer.alloc(3 * 1024 * 1024 + 17, 5);
let http: HttpServer;
let server: Server;
const seen: Array<{ url: string; authorization: string | undefined }> = [];

before(async () => {
  http = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (req.url?.endsWith('/chunked')) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.write(BLOB.subarray(0, 1000));
      res.end(BLOB.subarray(1000, 2000));
      return;
    }
    if (req.url?.endsWith('/short')) {
      res.writeHead(200, { 'Content-Length': BLOB.length });
      res.write(BLOB.subarray(0, 100_000), () => res.destroy());
      return;
    }
    if (req.url?.endsWith('/small')) {
      res.writeHead(200, { 'Content-Length': 10 }).end(BLOB.subarray(0, 10));
      return;
    }
    if (req.url?.endsWith('/missing')) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      return;
    }
    res.writeHead(200, { 'Content-Length': BLOB.length }).end(BLOB);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  server = {
    name: 'test',
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    pid: process.pid,
    headers: { Authorization: 'Basic QVdTOnNlY3JldA==' },
    dataDir: '',
    halt: async () => undefined,
    stop: async () => undefined,
  };
});

after(() => new Promise<void>((r) => http.close(() => r())));

test('pulls every blob in a process of its own, counting every byte, with the login headers', async () => {
  seen.length = 0;
  const r = await pullBlobsApart(server, 'team/app', ['sha256:aa', 'sha256:bb']);
  assert.equal(r.bytes, 2 * BLOB.length);
  assert.ok(r.seconds > 0, `seconds ${r.seconds}`);
  assert.ok(r.clientCpu > 0, `client CPU ${r.clientCpu}`);
  // Every body byte came in some read of at most 64 KiB, and at least one per blob.
  assert.ok(r.clientReads >= Math.ceil(r.bytes / (64 * 1024)) && r.clientReads <= r.bytes, `client reads ${r.clientReads}`);
  assert.deepEqual(
    seen.map((s) => s.url),
    ['/v2/team/app/blobs/sha256:aa', '/v2/team/app/blobs/sha256:bb'],
  );
  assert.ok(seen.every((s) => s.authorization === 'Basic QVdTOnNlY3JldA=='));
});

test('an answer other than 200 fails the pull', async () => {
  await assert.rejects(pullBlobsApart(server, 'team/app', ['sha256:aa', 'missing']), /answered 404/);
});

test('the reused-buffer reader counts every byte of every blob, with the login headers', async () => {
  seen.length = 0;
  const r = await pullBlobsApart(server, 'team/app', ['sha256:aa', 'sha256:bb', 'small'], 'reused-buffer');
  assert.equal(r.reader, 'reused-buffer');
  assert.equal(r.bytes, 2 * BLOB.length + 10);
  assert.ok(r.clientCpu > 0, `client CPU ${r.clientCpu}`);
  assert.ok(r.clientReads >= Math.ceil(r.bytes / (64 * 1024)) && r.clientReads <= r.bytes, `client reads ${r.clientReads}`);
  assert.deepEqual(
    seen.map((s) => s.url),
    ['/v2/team/app/blobs/sha256:aa', '/v2/team/app/blobs/sha256:bb', '/v2/team/app/blobs/small'],
  );
  assert.ok(seen.every((s) => s.authorization === 'Basic QVdTOnNlY3JldA=='));
});

test('the reused-buffer reader fails on an answer other than 200', async () => {
  await assert.rejects(pullBlobsApart(server, 'team/app', ['sha256:aa', 'missing'], 'reused-buffer'), /answered 404/);
});

test('the reused-buffer reader fails on a body without Content-Length rather than guess its end', async () => {
  await assert.rejects(pullBlobsApart(server, 'team/app', ['chunked'], 'reused-buffer'), /no Content-Length/);
});

test('the reused-buffer reader fails on a connection cut before the body ends', async () => {
  await assert.rejects(pullBlobsApart(server, 'team/app', ['short'], 'reused-buffer'), /connection closed after \d+ of \d+ body bytes/);
});
