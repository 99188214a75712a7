/**
 * The bench's curl part: the download's client CPU (curlGet: curl's own seconds come back beside its
 * figures, and a download curl fails still rejects, as it did before curl ran under bash's `times`),
 * and the upload opener, which leaves no idle connection behind, as real clients do not.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { childCpu, curlGet, openUpload } from './curl.js';
import type { Server } from './servers.js';

test('curlGet reports the bytes and curl’s own CPU seconds', async () => {
  const body = Buffer.alloc(64 * 1024 * 1024, 7);
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = await mkdtemp(join(tmpdir(), 'curl-test-'));
  try {
    const headers = join(dir, 'headers');
    await writeFile(headers, 'X-Test: 1\n');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`;
    const got = await curlGet(url, headers);
    assert.equal(got.status, 200);
    assert.equal(got.bytes, body.length);
    // Receiving 64 MiB costs curl some CPU: a figure, not NaN and not nothing.
    assert.ok(Number.isFinite(got.clientCpu) && got.clientCpu > 0, `clientCpu ${got.clientCpu}`);
    server.close();
    await assert.rejects(curlGet(url.replace(/:\d+\//, ':1/'), headers));
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('childCpu reads the children’s line of bash’s times', () => {
  assert.equal(childCpu('0m0.010s 0m0.002s\n0m1.250s 0m0.500s\n'), 1.75);
  assert.equal(childCpu('0m0.010s 0m0.002s\n1m2.000s 0m0.000s'), 62);
  assert.ok(Number.isNaN(childCpu('curl: (7) Failed to connect')));
});

test("openUpload's POST closes its connection once answered: an upload that streams has one connection, not an idle one beside it", async () => {
  const seen: IncomingMessage[] = [];
  const http = createServer((req, res) => {
    seen.push(req);
    res.writeHead(202, { Location: '/v2/r/blobs/uploads/u1' }).end();
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  try {
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const server = { name: 'test', url, headers: { Authorization: 'Basic x' } } as unknown as Server;
    const put = await openUpload(server, 'r', 'sha256:00');
    assert.equal(put, `${url}/v2/r/blobs/uploads/u1?digest=sha256%3A00`);
    assert.equal(seen.length, 1);
    const req = seen[0]!;
    assert.equal(req.headers.authorization, 'Basic x');
    // Kept alive (fetch's default), the socket stays open for the pool's keep-alive time.
    assert.equal(req.headers.connection, 'close');
    if (!req.socket.destroyed) await once(req.socket, 'close');
    const open = await new Promise<number>((resolve, reject) => http.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    assert.equal(open, 0);
  } finally {
    http.closeAllConnections();
    http.close();
  }
});
