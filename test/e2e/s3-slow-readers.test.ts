/**
 * The response rule on the S3 driver (a real Ceph RGW): a blob GET streamed from the object
 * store (Berth's own encryption, so the bytes pass through Berth) whose client stops reading is
 * cut as on the file system (http/slow-clients.ts), the store's read with it, and the next
 * download is whole. Small windows via config; waits are for the access log's line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startS3TestServer, type S3TestServer } from '../../src/blobstore/s3/testing/s3-test-server.js';
import { freePort, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { getBlob, pushBlob, sha256 } from './helpers/registry-http.js';
import { accessLines, bodyOf, CUT, stalledGet } from './helpers/stalled-readers.js';
import { waitFor } from './helpers/wait-for.js';

const s3 = await startS3TestServer();
const unavailable = 'unavailable' in s3 ? s3.unavailable : undefined;
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server: ${unavailable}`);
after(async () => {
  if (!('unavailable' in s3)) await s3.stop();
});

describe('a client that stops reading a blob streamed from S3', { skip: unavailable ?? false }, () => {
  const server = s3 as S3TestServer;
  let work: string;
  let berth: BerthProcess;
  let accessLog: string;
  const blob = randomBytes(24 * 1024 * 1024 + 99);
  const digest = sha256(blob);

  before(async () => {
    work = await tempDir('berth-s3-slow-readers-');
    accessLog = join(work, 'access.log');
    berth = await startBerth({
      args: ['--response-timeout-seconds', '2', '--response-min-bytes-per-second', '8192', '--access-log', accessLog],
      env: {
        BERTH_STORAGE: `s3://${server.bucket}/berth-slow-${randomBytes(4).toString('hex')}`,
        BERTH_S3_ENDPOINT: server.endpoint,
        BERTH_S3_REGION: server.region,
        BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
        BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      },
    });
    assert.equal((await pushBlob(berth.url, 'slow/s3', blob)).status, 201);
  });
  after(async () => {
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('cuts it, and serves the blob whole afterwards', async () => {
    const socket = await new Promise<Socket>((resolve) => {
      const s = connect(berth.port, '127.0.0.1', () => resolve(s));
    });
    const stalled = stalledGet(socket, `/v2/slow/s3/blobs/${digest}`, berth.host, berth.authorization);
    const line = await waitFor('the stalled download cut', () => accessLines(accessLog).find((l) => l.cut === CUT));
    assert.equal(line.aborted, true);
    const got = bodyOf(await stalled.readOn());
    assert.ok(got.length < blob.length, `a cut download is short (${got.length} bytes)`);
    assert.ok(got.equals(blob.subarray(0, got.length)), 'what was sent is the blob');
    const again = await getBlob(berth.url, 'slow/s3', digest);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(blob));
  });
});

describe('blob downloads relayed from S3 past downloadBufferBytes', { skip: unavailable ?? false }, () => {
  const server = s3 as S3TestServer;
  let berth: BerthProcess;
  let metricsPort = 0;
  const blob = randomBytes(24 * 1024 * 1024 + 7);
  const digest = sha256(blob);
  const MiB = 1024 * 1024;

  before(async () => {
    // 8 MiB: a relayed body asks for 3 MiB (object-body.ts's 1 MiB slabs) while the full relays
    // stay within half the budget, else 192 KiB (three 64 KiB lean slabs): one full relay, then
    // 26 lean ones ((8 - 3) MiB / 192 KiB); the next waits (5 s) and is refused. The response
    // rule's window is far off: the readers never read.
    metricsPort = await freePort();
    berth = await startBerth({
      args: ['--response-timeout-seconds', '600'],
      env: {
        BERTH_METRICS_PORT: String(metricsPort),
        BERTH_DOWNLOAD_BUFFER_BYTES: String(8 * MiB),
        BERTH_STORAGE: `s3://${server.bucket}/berth-relay-budget-${randomBytes(4).toString('hex')}`,
        BERTH_S3_ENDPOINT: server.endpoint,
        BERTH_S3_REGION: server.region,
        BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
        BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      },
    });
    assert.equal((await pushBlob(berth.url, 'slow/relay', blob)).status, 201);
  });
  after(async () => berth?.cleanup());

  it('serves 27 stalled readers in lean slabs, answers the next 429 with Retry-After, and serves the blob whole once they leave', {
    timeout: 180_000,
  }, async () => {
    const held = 3 * MiB + 26 * 192 * 1024;
    const stalled = [];
    for (let i = 0; i < 27; i++) {
      const socket = await new Promise<Socket>((resolve) => {
        const s = connect(berth.port, '127.0.0.1', () => resolve(s));
      });
      stalled.push(stalledGet(socket, `/v2/slow/relay/blobs/${digest}`, berth.host, berth.authorization));
      // One at a time, so which relay is the full one is known: the first.
      const want = 3 * MiB + i * 192 * 1024;
      await waitFor(`stalled download ${i + 1} under way`, async () => {
        // Refused (or waiting, which ends in a refusal): the budget had no room for it.
        assert.equal(await metric(metricsPort, 'berth_download_waiters{budget="blobs"}'), 0, `stalled download ${i + 1} waits for room`);
        return (await metric(metricsPort, 'berth_download_buffer_bytes{budget="blobs"}')) === want || undefined;
      });
    }
    assert.equal(await metric(metricsPort, 'berth_download_buffer_bytes{budget="blobs"}'), held);
    assert.equal(await metric(metricsPort, 'berth_download_lean_rings_total{budget="blobs"}'), 26);
    const refused = await getBlob(berth.url, 'slow/relay', digest);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(await metric(metricsPort, 'berth_download_refusals_total{budget="blobs"}'), 1);
    for (const s of stalled) s.socket.destroy();
    await waitFor('the budget given back', async () => (await metric(metricsPort, 'berth_download_buffer_bytes{budget="blobs"}')) === 0 || undefined);
    const again = await getBlob(berth.url, 'slow/relay', digest);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(blob));
  });
});

/** One series' value in the metrics listener's exposition. */
async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is exposed`);
  return Number(line.slice(series.length + 1));
}
