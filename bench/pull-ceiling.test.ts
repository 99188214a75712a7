/**
 * The pull ceiling's bare server (bare-blob-server.ts, a process of its own) must answer every GET
 * with a whole body of the size asked, and PullCeiling must pair each bare pull with the reference
 * pull it was given, in MB/s, with the bare server's and the client's CPU per GiB, and the client's
 * CPU per GiB on that reference pull.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pullUrlsApart } from './http-client.js';
import { PullCeiling } from './pull-ceiling.js';

const BYTES = 3 * 1024 * 1024 + 5;
let ceiling: PullCeiling;

before(async () => {
  ceiling = await PullCeiling.start(BYTES);
});
after(() => ceiling.stop());

test('each bare pull is kept beside the reference figure it was given', async () => {
  await ceiling.beside({ bytes: 1024 * 1024 * 1024, seconds: 2, clientCpu: 1.5 }, 2);
  await ceiling.beside({ bytes: 512 * 1024 * 1024, seconds: 1, clientCpu: 0.5 }, 1);
  const rounds = ceiling.figures();
  assert.equal(rounds.length, 2);
  assert.deepEqual(
    rounds.map((r) => [r.reference, r.referenceClientCpu]),
    [
      [512, 1.5],
      [512, 1],
    ],
  );
  for (const r of rounds) {
    assert.ok(r.bare > 0 && Number.isFinite(r.bare), `bare MB/s ${r.bare}`);
    assert.ok(r.bareServerCpu >= 0 && r.bareClientCpu > 0, JSON.stringify(r));
  }
});

test('the bare server answers any path with the whole body', async () => {
  const pulled = await pullUrlsApart([`${ceiling.url}/a`, `${ceiling.url}/v2/x/blobs/y`], {}, 'reused-buffer');
  assert.equal(pulled.bytes, 2 * BYTES);
});

test('a body size that is not a positive integer stops the bare server', async () => {
  await assert.rejects(PullCeiling.start(0), /exited \(1\) before listening: .*a body size in bytes/);
});
