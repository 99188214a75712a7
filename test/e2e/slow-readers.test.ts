/**
 * A client that stops reading a response is cut (the response rule, http/slow-clients.ts), and
 * what its download held goes with it: a real Berth (the built CLI), real sockets that never read
 * (raw TCP, TLS) and an h2 stream whose flow-control window is never opened again (node:http2),
 * beside readers that do read, slowly or not. Small windows via config; every wait is for a
 * condition (the server's open blob files in /proc, the access log's line), never for a clock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { CreateRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';
import { h2put } from './helpers/h2-push.js';
import { getBlob, pushBlob, sha256 } from './helpers/registry-http.js';
import { accessLines, bodyOf, CUT, openBlobFiles, pacedGet, stalledGet } from './helpers/stalled-readers.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/**
 * 48 KiB per 6-second window. The kernel takes a loopback reader's bytes in steps of 2–4 MB (see
 * ResponseWatch; over TLS a 1 MiB slot's records on top), so an honest reader is seen to move only
 * once per step: the reader "above the rate" below reads about 5 MB/s, slower than the server by
 * far, so ~30 MB a window on a quiet machine. The window is long enough that on a busy one (a
 * 2-core machine at load 12+, where the reader gets a fraction of a core) its process still takes
 * several steps per window: at 2 s, three runs at once beside busy loops cut the TLS reader 3 of
 * 3. Its blob takes it two windows or more, so a rule that asked more than that reader takes (a
 * rate counted per millisecond, say: 48 MB a window) still cuts it and fails the test.
 */
const WINDOW_SECONDS = 6;
const MIN_RATE = 8192;

const limitArgs = ['--response-timeout-seconds', String(WINDOW_SECONDS), '--response-min-bytes-per-second', String(MIN_RATE)];

describe('a client that stops reading a response (HTTP/1.1)', () => {
  let work: string;
  let berth: BerthProcess;
  let accessLog: string;
  const blob = randomBytes(48 * MiB + 4321);
  const digest = sha256(blob);

  before(async () => {
    work = await tempDir('berth-slow-readers-');
    accessLog = join(work, 'access.log');
    berth = await startBerth({ args: [...limitArgs, '--access-log', accessLog] });
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreateRepositoryCommand({ repositoryName: 'slow/public' }));
    assert.equal((await pushBlob(berth.url, '000000000000/slow/public', blob)).status, 201);
    assert.equal((await pushBlob(berth.url, 'slow/private', blob)).status, 201);
  });
  after(async () => {
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('cuts anonymous and authenticated readers that stop, releases their blob files, and lets a slow reader above the rate finish', async () => {
    const before = await openBlobFiles(berth);
    const connect = () =>
      new Promise<Socket>((resolve) => {
        const s = netConnect(berth.port, '127.0.0.1', () => resolve(s));
      });
    const anonymous = stalledGet(await connect(), `/v2/000000000000/slow/public/blobs/${digest}`, berth.host);
    const authenticated = stalledGet(await connect(), `/v2/slow/private/blobs/${digest}`, berth.host, berth.authorization);
    // About 5 MB/s: far below what the server could send, far above the minimum rate.
    const slow = pacedGet(berth.port, `/v2/slow/private/blobs/${digest}`, berth.host, berth.authorization, 256 * 1024);
    const slowBody = await slow;
    assert.ok(slowBody.equals(blob), 'the slow reader got every byte');
    const cut = await waitFor('both stalled downloads cut', () => {
      const lines = accessLines(accessLog).filter((l) => l.cut === CUT);
      return lines.length >= 2 && lines;
    });
    for (const l of cut) {
      assert.equal(l.aborted, true);
      assert.equal(l.status, 200);
      assert.ok(Number(l.bytesSent) < blob.length, `${String(l.bytesSent)} bytes counted`);
    }
    assert.deepEqual(cut.map((l) => l.principal).sort(), ['anonymous', 'arn:aws:iam::000000000000:root']);
    await waitFor('the stalled downloads released their blob files', async () => (await openBlobFiles(berth)) <= before);
    for (const stalled of [anonymous, authenticated]) {
      const got = bodyOf(await stalled.readOn());
      assert.ok(got.length < blob.length, `a cut download is short (${got.length} bytes)`);
      assert.ok(got.equals(blob.subarray(0, got.length)), 'what was sent is the blob');
    }
    const again = await getBlob(berth.url, 'slow/private', digest);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(blob));
  });
});

describe('a client that stops reading a response (TLS: HTTP/1.1 and h2)', () => {
  let work: string;
  let berth: BerthProcess;
  let accessLog: string;
  let ca: Buffer;
  const sessions: ClientHttp2Session[] = [];
  const blob = randomBytes(48 * MiB + 777);
  const digest = sha256(blob);
  const path = `/v2/slow/tls/blobs/${digest}`;

  before(async () => {
    work = await tempDir('berth-slow-readers-tls-');
    const pki = join(work, 'pki');
    accessLog = join(work, 'access.log');
    await run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1']);
    ca = readFileSync(join(pki, 'ca.crt'));
    berth = await startBerth({
      ca: join(pki, 'ca.crt'),
      args: ['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key'), '--access-log', accessLog, ...limitArgs],
    });
    const push = await h2put(berth, ca, 'slow/tls', blob);
    assert.equal(push, 201);
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('cuts an HTTP/1.1-over-TLS reader that stops, releases its blob file, and lets a slow TLS reader above the rate finish', async () => {
    const before = await openBlobFiles(berth);
    const socket = await new Promise<Socket>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: berth.port, ca, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
    });
    const stalled = stalledGet(socket, path, berth.host, berth.authorization);
    const tls = () => tlsConnect({ host: '127.0.0.1', port: berth.port, ca, ALPNProtocols: ['http/1.1'] });
    const slow = await pacedGet(berth.port, path, berth.host, berth.authorization, 256 * 1024, tls);
    assert.ok(slow.equals(blob), 'the slow TLS reader got every byte');
    await waitFor('the stalled TLS download cut', () => accessLines(accessLog).some((l) => l.cut === CUT && l.protocol === 'HTTP/1.1'));
    await waitFor('its blob file released', async () => (await openBlobFiles(berth)) <= before);
    const got = bodyOf(await stalled.readOn());
    assert.ok(got.length < blob.length, `a cut download is short (${got.length} bytes)`);
  });

  it('resets an h2 stream whose window is never opened, while another stream on the same connection completes', async () => {
    const before = await openBlobFiles(berth);
    const session = h2connect(berth.url, { ca });
    sessions.push(session);
    session.on('error', () => undefined);
    const headers = { ':path': path, authorization: berth.authorization };
    const stalled = session.request(headers);
    stalled.on('error', () => undefined);
    // Paused: the client takes nothing from it, so its window is never opened again.
    stalled.pause();
    const reset = new Promise<number>((resolve) => stalled.once('close', () => resolve(stalled.rstCode ?? -1)));
    const whole = await new Promise<Buffer>((resolve, reject) => {
      const s = session.request(headers);
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    assert.ok(whole.equals(blob), 'the other stream got every byte');
    await waitFor('the stalled stream cut', () => accessLines(accessLog).some((l) => l.cut === CUT && l.protocol === 'HTTP/2'));
    await waitFor('its blob file released', async () => (await openBlobFiles(berth)) <= before);
    stalled.resume();
    assert.equal(await reset, constants.NGHTTP2_CANCEL);
    assert.ok(!session.destroyed && !session.closed, 'the connection stays open');
  });
});
