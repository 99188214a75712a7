/**
 * An h2 stream the client resets with NO_ERROR (node:http2's `stream.close()` default) gives
 * back at once what its download held (h2.ts, destroyWhenPeerResets): a real Berth (the built
 * CLI) over TLS, node:http2's client. The response rule's window is set far beyond the test's
 * own timeout, so only the release on the reset can pass it; the download budget is the minimum
 * (1 MiB: eight lean rings), so a download still held after its reset would make a later one
 * wait and be refused (429). Every wait is for a condition, never for a clock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { h2put } from './helpers/h2-push.js';
import { sha256 } from './helpers/registry-http.js';
import { openBlobFiles } from './helpers/stalled-readers.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** Three times what the budget holds at once: without the release the ninth would be refused. */
const RESETS = 24;
/** Well below the response rule's window (600 s here) and its default (60–75 s). */
const TEST_TIMEOUT_MS = 45_000;

describe('an h2 stream the client resets with NO_ERROR', () => {
  let work: string;
  let berth: BerthProcess;
  let ca: Buffer;
  let session: ClientHttp2Session | undefined;
  const blob = randomBytes(24 * MiB + 99);
  const path = `/v2/reset/h2/blobs/${sha256(blob)}`;

  before(async () => {
    work = await tempDir('berth-h2-reset-');
    const pki = join(work, 'pki');
    await run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1']);
    ca = readFileSync(join(pki, 'ca.crt'));
    berth = await startBerth({
      ca: join(pki, 'ca.crt'),
      args: ['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key'), '--response-timeout-seconds', '600'],
      env: { BERTH_DOWNLOAD_BUFFER_BYTES: String(MiB) },
    });
    assert.equal(await h2put(berth, ca, 'reset/h2', blob), 201);
  });
  after(async () => {
    session?.destroy();
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('releases its download at once (blob file, budget), while a stream beside them completes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const before = await openBlobFiles(berth);
    const s = h2connect(berth.url, { ca });
    session = s;
    s.on('error', () => undefined);
    const headers = { ':path': path, authorization: berth.authorization };
    const whole = new Promise<Buffer>((resolve, reject) => {
      const r = s.request(headers);
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve(Buffer.concat(chunks)));
      r.on('error', reject);
    });
    for (let i = 0; i < RESETS; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const r = s.request(headers);
        r.on('error', reject);
        let code = 0;
        r.once('response', (h) => (code = Number(h[':status'])));
        // Reset once the download is under way (its first bytes came), before it is done.
        r.once('data', () => {
          r.once('close', () => resolve(code));
          r.close();
        });
        r.once('end', () => resolve(code));
      });
      assert.equal(status, 200, `download ${i + 1} of ${RESETS} answered`);
    }
    assert.ok((await whole).equals(blob), 'the stream beside them got every byte');
    await waitFor('the reset downloads released their blob files', async () => (await openBlobFiles(berth)) <= before);
    assert.ok(!s.destroyed && !s.closed, 'the connection stays open');
  });
});
