/**
 * The hash pool on real worker threads: digests equal node:crypto's for any chunking, sessions
 * run side by side, a session never has more than its bound in flight, and a worker that dies
 * fails its sessions (and only them) while the next session gets a fresh worker.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { HashPool, HashWorkerLostError, type HashSession } from './hash-pool.js';

const hex = (alg: string, data: Uint8Array) => createHash(alg).update(data).digest('hex');

/** Feeds `data` in chunks of the given sizes (cycled), waiting whenever the session says so. */
async function feed(s: HashSession, data: Buffer, sizes: number[]): Promise<void> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    const wait = s.update(data.subarray(at, at + n));
    at += n;
    if (wait) await wait;
  }
}

describe('hash pool', () => {
  const pool = new HashPool({ threads: 2, batchBytes: 64 * 1024, maxInFlight: 2 });
  after(() => pool.close());

  it('gives the digest node:crypto gives, for any chunking and both algorithms', async () => {
    const data = randomBytes(1024 * 1024 + 17);
    for (const alg of ['sha256', 'sha512'] as const) {
      for (const sizes of [[1], [1000, 7, 65_536], [64 * 1024], [300_000], [data.length]]) {
        // One byte at a time over a megabyte is slow on a busy machine; a prefix tells as much.
        const part = sizes[0] === 1 ? data.subarray(0, 200_001) : data;
        const s = pool.open(alg);
        await feed(s, part, sizes);
        assert.equal(s.size, part.length);
        assert.equal(await s.digest(), hex(alg, part), `${alg} in chunks of ${sizes.join(',')}`);
      }
    }
    const empty = pool.open('sha256');
    assert.equal(await empty.digest(), hex('sha256', new Uint8Array()));
  });

  it('copies what it is fed: the caller may reuse its buffer at once', async () => {
    const buf = Buffer.alloc(10_000);
    const s = pool.open('sha256');
    const expected = createHash('sha256');
    for (let i = 0; i < 50; i++) {
      buf.fill(i);
      expected.update(buf);
      const wait = s.update(buf);
      if (wait) await wait;
    }
    assert.equal(await s.digest(), expected.digest('hex'));
  });

  it('hashes many sessions side by side, each in order', async () => {
    const blobs = Array.from({ length: 24 }, (_, i) => randomBytes(200_000 + i * 4099));
    const sessions = blobs.map(() => pool.open('sha256'));
    // Interleaved feeding: every session gets a chunk before any gets the next.
    for (let at = 0; blobs.some((b) => at < b.length); at += 8192) {
      const waits = sessions.map((s, i) => (at < blobs[i]!.length ? s.update(blobs[i]!.subarray(at, at + 8192)) : undefined));
      await Promise.all(waits);
    }
    const digests = await Promise.all(sessions.map((s) => s.digest()));
    assert.deepEqual(
      digests,
      blobs.map((b) => hex('sha256', b)),
    );
    assert.ok(pool.liveWorkers().length <= 2);
  });

  it('lets its slabs go once no slot is in use, and hashes right on slabs made afresh', async () => {
    const crowd = async (n: number): Promise<void> => {
      const blobs = Array.from({ length: n }, (_, i) => randomBytes(100 * 1024 + i));
      const sessions = blobs.map(() => pool.open('sha256'));
      // Each session holds a partly filled batch until its digest: n slots at once at least.
      await Promise.all(sessions.map((s, i) => s.update(blobs[i]!)));
      assert.ok(pool.heldSlabs >= n / 8, `${pool.heldSlabs} slabs for ${n} sessions holding a batch each`);
      const digests = await Promise.all(sessions.map((s) => s.digest()));
      assert.deepEqual(
        digests,
        blobs.map((b) => hex('sha256', b)),
      );
    };
    await crowd(40);
    assert.equal(pool.heldSlabs, 2, 'the slabs of the crowd were kept after it ended');
    // Slabs at the indices let go are made again: the workers must hash from the new ones.
    await crowd(40);
    assert.equal(pool.heldSlabs, 2);
  });

  it('makes the caller wait once the session has its bound of batches in flight', async () => {
    const s = pool.open('sha256');
    const batch = Buffer.alloc(64 * 1024, 1);
    // Two full batches go out without waiting only if the worker answered in between; the
    // third is beyond the bound of two unless acknowledgements came back, so feeding many
    // batches synchronously must at some point be asked to wait.
    let waited = false;
    for (let i = 0; i < 10 && !waited; i++) waited = s.update(batch) !== undefined;
    assert.ok(waited, 'update() never asked the caller to wait');
    s.drop();
  });

  it('fails the sessions of a worker that died, and starts a fresh worker for the next', async () => {
    const solo = new HashPool({ threads: 1 });
    try {
      const s = solo.open('sha256');
      const data = randomBytes(500_000);
      await feed(s, data, [65_536]);
      const [worker] = solo.liveWorkers();
      assert.ok(worker);
      await worker.terminate();
      assert.ok(s.failure instanceof HashWorkerLostError);
      // A failed session swallows bytes without making its stream wait, and has no digest.
      assert.equal(s.update(data), undefined);
      await assert.rejects(s.digest(), HashWorkerLostError);

      const next = solo.open('sha256');
      await feed(next, data, [65_536]);
      assert.equal(await next.digest(), hex('sha256', data));
      assert.notEqual(solo.liveWorkers()[0], worker);
    } finally {
      await solo.close();
    }
  });
});
