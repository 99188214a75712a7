/**
 * Downloads written to the socket by their opening thread (threadSends: the default, named here all the same), through
 * a real Berth and curl: blobs past the ring's first slots come back exact, two on one kept-alive
 * connection (with a range), and the access log counts each body's bytes once, as a download the
 * main thread writes (the thread's bytes are added before the response ends; the last byte goes
 * out with the response's end, so a client that has it all cannot make the log say "aborted").
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { threadPolicies } from '../../src/blobstore/encrypted/thread-policies-testing.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { pushBlob, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);

describe('downloads sent by their opening thread, through Berth', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info', BERTH_THREAD_SENDS: 'true' } });
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('sends blobs whole on one kept-alive connection, and logs each body once, not as aborted', async () => {
    const out = await tempDir('berth-sends-out-');
    const blobs = [randomBytes(9 * 1024 * 1024 + 3), randomBytes(20 * 1024 * 1024)];
    for (const b of blobs) assert.equal((await pushBlob(berth.url, 'sends/app', b)).status, 201);
    const urls = blobs.map((b) => `${berth.url}/v2/sends/app/blobs/${sha256(b)}`);
    const auth = ['-H', `Authorization: ${berth.authorization}`];
    // Both on one connection (num_connects 1, then 0), then a range of the second on a third.
    const { stdout } = await run('curl', [
      '-sS',
      ...auth,
      urls[0]!,
      '-o',
      join(out, 'a'),
      urls[1]!,
      '-o',
      join(out, 'b'),
      '-w',
      '%{http_code} %{size_download} %{num_connects}\\n',
    ]);
    assert.deepEqual(stdout.trim().split('\n'), [`200 ${blobs[0]!.length} 1`, `200 ${blobs[1]!.length} 0`]);
    for (const [i, name] of ['a', 'b'].entries()) {
      assert.equal(
        createHash('sha256')
          .update(await readFile(join(out, name)))
          .digest('hex'),
        sha256(blobs[i]!).slice(7),
      );
    }
    const ranged = await run('curl', ['-sS', ...auth, '-r', '5000000-15000000', urls[1]!, '-o', join(out, 'r'), '-w', '%{http_code} %{size_download}']);
    assert.equal(ranged.stdout, '206 10000001');
    assert.ok((await readFile(join(out, 'r'))).equals(blobs[1]!.subarray(5_000_000, 15_000_001)));
    // The access log: each GET's bytes, none aborted.
    const gets = await waitFor('the three GETs logged', () => {
      const lines = berth
        .output()
        .split('\n')
        .filter((l) => l.includes('"operation":"blob-read"'))
        .map((l) => JSON.parse(l) as { bytesSent: number; aborted?: boolean; status: number });
      return lines.length >= 3 ? lines : undefined;
    });
    assert.deepEqual(
      gets.map((g) => [g.status, g.bytesSent, g.aborted ?? false]),
      [
        [200, blobs[0]!.length, false],
        [200, blobs[1]!.length, false],
        [206, 10_000_001, false],
      ],
    );
    // The send pipe's threads (sendPipe, sendPipeBatch: the defaults) run as SCHED_BATCH (policy 3).
    const pipes = await threadPolicies(berth.child.pid!, 'berth-send');
    assert.ok(pipes.length > 0 && pipes.every((p) => p === 3), `send pipe threads' policies: ${pipes.join(', ')}`);
  });
});
