/**
 * The curl download's client CPU (curlGet): curl's own seconds come back beside its figures, and a
 * download curl fails still rejects, as it did before curl ran under bash's `times`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { childCpu, curlGet } from './curl.js';

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
