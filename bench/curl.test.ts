/** The bench's upload opener leaves no idle connection behind, as real clients do not. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { openUpload } from './curl.js';
import type { Server } from './servers.js';

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
