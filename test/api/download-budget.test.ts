/**
 * What slow clients can hold of a node, against the real app in process (its http.Server is the
 * one `berth serve` runs), over real HTTP: downloads in flight past `downloadBufferBytes` are
 * answered 429 with Retry-After (never a 500) and hold no blob file, a download beside them gets
 * its exact bytes once one leaves; and `maxConnectionsPerSource` closes the connection past the
 * bound from one address as it arrives, serves other addresses, and accepts again once one of
 * the address's connections closes. Conditions are waited for; bounds are "within a generous time".
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { within } from '../e2e/helpers/raw-socket.js';
import { makeImage, pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { openFilesUnder } from '../../src/blobstore/testing.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { BatchGetImageCommand } from '@aws-sdk/client-ecr';
import { ecrClient } from '../e2e/helpers/ecr-client.js';

const MiB = 1024 * 1024;
/** Far above any wait below: reaching it means the server never did what the test waits for. */
const NEVER_MS = 30_000;

async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

/** A TCP connection from `from` (a loopback address of its own) that may send `request`; `closed` once the server closed it. */
async function connectFrom(port: number, from: string, request?: string): Promise<{ socket: Socket; closed: Promise<void>; data: () => string }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  socket.on('error', () => undefined);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  if (request) socket.write(request);
  return { socket, closed, data: () => data };
}

/** GET `path` over a fresh connection from `from`: status and body. */
function getFrom(berth: BerthInProcess, from: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port: berth.port, path, localAddress: from, agent: false, headers: { Authorization: berth.authorization } }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (p: Buffer) => pieces.push(p));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(pieces) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('downloads in flight past downloadBufferBytes', () => {
  let berth: BerthInProcess;
  const blob = randomBytes(24 * MiB + 321);
  const digest = sha256(blob);
  let blobs = '';
  before(async () => {
    // 4 MiB: a full ring (3 MiB) never fits its half, so every download gets a lean one (two
    // 64 KiB chunks): 32 at once.
    berth = await startInProcess({ onDisk: true, env: { BERTH_DOWNLOAD_BUFFER_BYTES: String(4 * MiB) } });
    blobs = join(berth.dataDir, 'blobs');
    assert.equal((await pushBlob(berth.url, 'budget/big', blob)).status, 201);
  });
  after(async () => berth?.cleanup());

  it('answers 429 with Retry-After past the budget, holds no file for it, and serves again once a reader leaves', { timeout: 120_000 }, async () => {
    const path = `/v2/budget/big/blobs/${digest}`;
    const head = `GET ${path} HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\n\r\n`;
    const readers = [];
    for (let i = 0; i < 32; i++) {
      const r = await connectFrom(berth.port, '127.0.0.1', head);
      // Never reads: the download waits on its client (the response rule's 60 s are far off).
      r.socket.pause();
      readers.push(r);
    }
    await within(
      until(async () => (await openFilesUnder(blobs)) === 32),
      NEVER_MS,
      '32 downloads under way',
    );
    const refused = await within(getFrom(berth, '127.0.0.1', path), NEVER_MS, 'the answer past the budget');
    assert.equal(refused.status, 429, `status ${refused.status}`);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(JSON.parse(refused.body.toString()).errors[0].code, 'TOOMANYREQUESTS');
    assert.equal(await openFilesUnder(blobs), 32, 'the refused download holds no blob file');

    // One reader leaves: the next download is whole and exact.
    readers.shift()!.socket.destroy();
    const fast = await within(getFrom(berth, '127.0.0.1', path), NEVER_MS, 'a download once one left');
    assert.equal(fast.status, 200);
    assert.equal(createHash('sha256').update(fast.body).digest('hex'), digest.slice('sha256:'.length));

    for (const r of readers) r.socket.destroy();
    await within(
      until(async () => (await openFilesUnder(blobs)) === 0),
      NEVER_MS,
      'blob files closed',
    );
  });
});

describe('connections per source past maxConnectionsPerSource', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_MAX_CONNECTIONS_PER_SOURCE: '3', BERTH_METRICS_PORT: '0' } });
  });
  after(async () => berth?.cleanup());

  it('closes the address`s connection past the bound as it arrives, serves other addresses, and accepts again after one closes', {
    timeout: 120_000,
  }, async () => {
    // Addresses of their own: the harness's clients (127.0.0.1) may keep connections open.
    const from = '127.0.0.3';
    const health = `GET /healthz HTTP/1.1\r\nHost: ${berth.host}\r\n\r\n`;
    const held = [await connectFrom(berth.port, from), await connectFrom(berth.port, from), await connectFrom(berth.port, from)];
    const past = await connectFrom(berth.port, from, health);
    await within(past.closed, NEVER_MS, 'the connection past the bound was not closed');
    assert.equal(past.data(), '', 'closed unanswered');

    // Another address is served; the address's own connections still are.
    assert.equal((await getFrom(berth, '127.0.0.4', '/healthz')).status, 200);
    held[0]!.socket.write(health);
    await within(
      until(async () => held[0]!.data().startsWith('HTTP/1.1 200')),
      NEVER_MS,
      'a held connection answered',
    );

    // One closes: the address may connect again.
    held[1]!.socket.destroy();
    await held[1]!.closed;
    let again: { status: number } | undefined;
    await within(
      until(async () => {
        // The server hears of the close a moment after the client: until then it may still refuse.
        again = await getFrom(berth, from, '/healthz').catch(() => undefined);
        return again !== undefined;
      }),
      NEVER_MS,
      'a new connection once one closed',
    );
    assert.equal(again?.status, 200);
    for (const h of held) h.socket.destroy();
    // The refusal is a metric (the listener runs in its own thread and asks the loop for the text).
    assert.match(await scrape(berth), /^berth_connections_refused_per_source_total 1$/m);
  });
});

/** The metrics listener's exposition. */
async function scrape(berth: BerthInProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${berth.app.metricsPort()}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe('manifests in flight past manifestBufferBytes', () => {
  let berth: BerthInProcess;
  const manifests = new Map<string, Buffer>();
  const layer = randomBytes(1000);
  before(async () => {
    // 1 MiB for manifests (their own budget), 12 MiB manifests: more than the sockets' buffers
    // take on loopback (the server's send buffer grows to 4 MiB at most), so a reader that stops
    // leaves most of one in the server, and one such manifest is let in alone.
    berth = await startInProcess({
      env: { BERTH_MANIFEST_BUFFER_BYTES: String(1 * MiB), BERTH_MAX_MANIFEST_BYTES: String(16 * MiB), BERTH_METRICS_PORT: '0' },
    });
    const image = makeImage('budget/manifests', 'a', [layer]);
    for (const [, b] of image.blobs) assert.equal((await pushBlob(berth.url, 'budget/manifests', b)).status, 201);
    for (const tag of ['a', 'b']) {
      const m = { ...JSON.parse(image.manifest.toString()), annotations: { pad: randomBytes(9 * MiB).toString('base64') } };
      const body = Buffer.from(JSON.stringify(m));
      const put = await fetch(`${berth.url}/v2/budget/manifests/manifests/${tag}`, {
        method: 'PUT',
        headers: { Authorization: berth.authorization, 'Content-Type': m.mediaType },
        body,
      });
      assert.equal(put.status, 201, await put.text());
      manifests.set(tag, body);
    }
  });
  after(async () => berth?.cleanup());

  it('answers 429 past the budget while a reader holds a manifest, serves it again once the reader leaves, and counts it', { timeout: 120_000 }, async () => {
    const head = (tag: string) => `GET /v2/budget/manifests/manifests/${tag} HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\n\r\n`;
    const reader = await connectFrom(berth.port, '127.0.0.1', head('a'));
    reader.socket.pause();
    await within(
      until(async () => reader.socket.bytesRead > 0),
      NEVER_MS,
      'the first manifest under way',
    );
    const refused = await within(getFrom(berth, '127.0.0.1', '/v2/budget/manifests/manifests/b'), NEVER_MS, 'the answer past the budget');
    assert.equal(refused.status, 429, `status ${refused.status}`);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(JSON.parse(refused.body.toString()).errors[0].code, 'TOOMANYREQUESTS');
    // A blob download is not behind the manifests' budget.
    const blob = await getFrom(berth, '127.0.0.1', `/v2/budget/manifests/blobs/${sha256(layer)}`);
    assert.equal(blob.status, 200);
    assert.ok(blob.body.equals(layer));

    reader.socket.destroy();
    await within(
      until(async () => /^berth_download_buffer_bytes\{budget="manifests"\} 0$/m.test(await scrape(berth))),
      NEVER_MS,
      'the manifest given back once its reader left',
    );
    const served = await within(getFrom(berth, '127.0.0.1', '/v2/budget/manifests/manifests/b'), NEVER_MS, 'the manifest once the reader left');
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(manifests.get('b')!), 'exact bytes');

    const text = await scrape(berth);
    assert.match(text, /^berth_download_refusals_total\{budget="manifests"\} 1$/m);
    assert.match(text, /^berth_download_waits_total\{budget="manifests"\} 1$/m);
    assert.match(text, /^berth_download_buffer_limit_bytes\{budget="manifests"\} 1048576$/m);
    assert.match(text, /^berth_download_refusals_total\{budget="blobs"\} 0$/m);
  });

  it('refuses BatchGetImage past the budget with ThrottlingException (the SDK`s cue to retry), and answers it once the reader leaves', {
    timeout: 120_000,
  }, async () => {
    const ecr = ecrClient(berth);
    const reader = await connectFrom(
      berth.port,
      '127.0.0.1',
      `GET /v2/budget/manifests/manifests/a HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\n\r\n`,
    );
    reader.socket.pause();
    await within(
      until(async () => reader.socket.bytesRead > 0),
      NEVER_MS,
      'the first manifest under way',
    );
    const batch = () => ecr.send(new BatchGetImageCommand({ repositoryName: 'budget/manifests', imageIds: [{ imageTag: 'b' }] }));
    const refused = await within(
      batch().then(
        () => undefined,
        (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } },
      ),
      NEVER_MS,
      'the BatchGetImage past the budget',
    );
    assert.equal(refused?.name, 'ThrottlingException');
    assert.equal(refused.$metadata.httpStatusCode, 400);
    assert.match(await scrape(berth), /^berth_download_refusals_total\{budget="manifests"\} 2$/m);

    reader.socket.destroy();
    await within(
      until(async () => /^berth_download_buffer_bytes\{budget="manifests"\} 0$/m.test(await scrape(berth))),
      NEVER_MS,
      'the manifest given back once its reader left',
    );
    const out = await within(batch(), NEVER_MS, 'BatchGetImage once the reader left');
    assert.equal(out.failures?.length, 0);
    assert.equal(out.images?.[0]?.imageManifest, manifests.get('b')!.toString());
    // Its answer was held while sent, and given back once the SDK had it.
    await within(
      until(async () => /^berth_download_buffer_bytes\{budget="manifests"\} 0$/m.test(await scrape(berth))),
      NEVER_MS,
      'the answer given back',
    );
    ecr.destroy();
  });
});
