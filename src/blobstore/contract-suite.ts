/**
 * The one contract every BlobStore driver must meet, as a node:test suite, through withChecks as
 * app/ composes every driver (drivers check no input themselves). A driver joins with a
 * few lines (see fs/fs-blob-store.test.ts); a test it cannot pass is skipped with a stated reason,
 * never silently dropped, and a skip naming no test here fails so that stale skips are noticed.
 * The edge cases (bad input, failures, aborts, leftovers) are in contract-suite-edges.ts, run by the same suite.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { bytes, putBlob, readAll, sourceOf } from './testing.js';
import { digestOf, type Digest } from '../core/digest.js';
import { BlobNotFoundError, type BlobStore } from './blob-store.js';
import { withChecks } from './checked-blob-store.js';
import { edgeContract } from './contract-suite-edges.js';

export interface BlobStoreSuiteOptions {
  name: string;
  /** Builds a fresh store; `dir` is an empty temporary directory removed after the test. */
  create: (dir: string) => Promise<BlobStore>;
  skip?: Array<{ reason: string; tests: string[] }>;
  /**
   * Everything the driver (as `create` made it) holds, in its own names (files, object keys),
   * for the check that nothing is left behind; without it, only what listUploads shows is checked.
   */
  contents?: (raw: BlobStore, dir: string) => Promise<string[]>;
  /**
   * How many of the suite's tests run at once. Each test has a fresh store of its own, so none
   * depends on another; a driver whose every call is a network round trip (S3) sets this so the
   * suite's time is not the sum of its round trips. Default 1 (one after another).
   */
  concurrency?: number;
  /**
   * MiB in the large streamed blob (default 64). A driver over the network may take fewer, as
   * long as the blob still takes its large-object path (S3: several multipart parts).
   */
  largeBlobMiB?: number;
}

/** `raw` is the driver as created; `store` is it as app/ composes it, checked (withChecks). */
export type Body = (store: BlobStore, dir: string, raw: BlobStore) => Promise<void>;
/** Registers one contract test, skipped when the driver's skip list names it. */
export type ContractTest = (name: string, body: Body) => void;

export function runBlobStoreSuite(opts: BlobStoreSuiteOptions): void {
  const reasons = new Map<string, string>();
  for (const s of opts.skip ?? []) for (const t of s.tests) reasons.set(t, s.reason);
  const names = new Set<string>();

  describe(`blob store contract: ${opts.name}`, { concurrency: opts.concurrency ?? 1 }, () => {
    function test(name: string, body: Body): void {
      names.add(name);
      const reason = reasons.get(name);
      it(name, reason === undefined ? {} : { skip: reason }, async () => {
        const dir = await mkdtemp(join(tmpdir(), 'berth-blobstore-'));
        try {
          const raw = await opts.create(dir);
          await body(withChecks(raw), dir, raw);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    }

    test('stat of a missing blob is undefined', async (store) => {
      assert.equal(await store.stat(digestOf('nothing here')), undefined);
    });

    test('write, commit, stat and read a blob', async (store) => {
      const data = bytes(100_000, 1);
      const digest = await putBlob(store, data);
      assert.deepEqual(await store.stat(digest), { size: data.length });
      assert.deepEqual(await readAll(await store.read(digest)), data);
    });

    test('an empty upload commits as an empty blob', async (store) => {
      const digest = digestOf('');
      const w = await store.writer(randomUUID(), { append: false });
      assert.equal(w.size, 0);
      await w.commit(digest);
      assert.deepEqual(await store.stat(digest), { size: 0 });
      assert.equal((await readAll(await store.read(digest))).length, 0);
    });

    test('ranged reads return first byte, middle, last byte and whole', async (store) => {
      const data = bytes(300_000, 2);
      const digest = await putBlob(store, data);
      const last = data.length - 1;
      for (const [start, end] of [
        [0, 0],
        [1000, 200_123],
        [last, last],
        [0, last],
        [65_535, 65_536],
      ] as const) {
        const got = await readAll(await store.read(digest, { start, end }));
        assert.deepEqual(got, data.subarray(start, end + 1), `range ${start}-${end}`);
      }
    });

    test('read of a missing blob rejects with BlobNotFoundError', async (store) => {
      const digest = digestOf('absent');
      await assert.rejects(store.read(digest), (e: unknown) => e instanceof BlobNotFoundError && e.digest === digest);
      await assert.rejects(store.read(digest, { start: 0, end: 0 }), BlobNotFoundError);
    });

    test('a chunked upload through several writers commits all chunks', async (store) => {
      const id = randomUUID();
      const parts = [bytes(70_000, 3), bytes(1, 4), bytes(200_000, 5)];
      let expected = 0;
      for (const part of parts) {
        const w = await store.writer(id, { append: true });
        assert.equal(w.size, expected);
        assert.equal(await w.append(sourceOf(part)), part.length);
        expected += part.length;
        assert.equal(w.size, expected);
        await w.close();
      }
      const all = Buffer.concat(parts);
      const w = await store.writer(id, { append: true });
      await w.commit(digestOf(all));
      assert.deepEqual(await readAll(await store.read(digestOf(all))), all);
      assert.equal(await store.statUpload(id), undefined);
    });

    test('append: false restarts an upload', async (store) => {
      const id = randomUUID();
      const w1 = await store.writer(id, { append: true });
      await w1.append(sourceOf(bytes(5000, 6)));
      await w1.close();
      const w2 = await store.writer(id, { append: false });
      assert.equal(w2.size, 0);
      const fresh = bytes(3000, 7);
      await w2.append(sourceOf(fresh));
      assert.equal(await store.statUpload(id), fresh.length);
      await w2.commit(digestOf(fresh));
      assert.deepEqual(await readAll(await store.read(digestOf(fresh))), fresh);
    });

    test('statUpload and readUpload return the staged bytes', async (store) => {
      const id = randomUUID();
      assert.equal(await store.statUpload(id), undefined);
      await assert.rejects(store.readUpload(id));
      const w = await store.writer(id, { append: false });
      const a = bytes(40_000, 8);
      const b = bytes(10, 9);
      await w.append(sourceOf(a));
      await w.append(sourceOf(b));
      assert.equal(await store.statUpload(id), a.length + b.length);
      assert.deepEqual(await readAll(await store.readUpload(id)), Buffer.concat([a, b]));
      await w.close();
    });

    test('uploads in parallel do not mix', async (store) => {
      const [a, b] = [bytes(100_000, 10), bytes(100_000, 11)];
      const [wa, wb] = await Promise.all([store.writer(randomUUID(), { append: false }), store.writer(randomUUID(), { append: false })]);
      await Promise.all([wa.append(sourceOf(a, 1000)), wb.append(sourceOf(b, 1000))]);
      await Promise.all([wa.commit(digestOf(a)), wb.commit(digestOf(b))]);
      assert.deepEqual(await readAll(await store.read(digestOf(a))), a);
      assert.deepEqual(await readAll(await store.read(digestOf(b))), b);
    });

    test('cancel and deleteUpload remove the staged upload', async (store) => {
      const id = randomUUID();
      const w = await store.writer(id, { append: false });
      await w.append(sourceOf(bytes(1000, 12)));
      await w.cancel();
      assert.equal(await store.statUpload(id), undefined);
      const id2 = randomUUID();
      const w2 = await store.writer(id2, { append: false });
      await w2.append(sourceOf(bytes(10, 13)));
      await w2.close();
      await store.deleteUpload(id2);
      assert.equal(await store.statUpload(id2), undefined);
      await store.deleteUpload(id2);
      await store.deleteUpload(randomUUID());
    });

    test('commit of an already stored digest is idempotent', async (store) => {
      const data = bytes(50_000, 14);
      const digest = await putBlob(store, data);
      const id = randomUUID();
      const w = await store.writer(id, { append: false });
      await w.append(sourceOf(data));
      await w.commit(digest);
      assert.equal(await store.statUpload(id), undefined);
      assert.deepEqual(await readAll(await store.read(digest)), data);
    });

    test('concurrent commits of the same content both succeed', async (store) => {
      const data = bytes(200_000, 15);
      const digest = digestOf(data);
      const writers = await Promise.all([1, 2, 3].map(() => store.writer(randomUUID(), { append: false })));
      await Promise.all(writers.map((w) => w.append(sourceOf(data))));
      await Promise.all(writers.map((w) => w.commit(digest)));
      for (const w of writers) assert.equal(await store.statUpload(w.uploadId), undefined);
      assert.deepEqual(await store.stat(digest), { size: data.length });
      assert.deepEqual(await readAll(await store.read(digest)), data);
      // A retried completion may commit one upload twice, through two writers, at once.
      const again = bytes(10_000, 25);
      const id = randomUUID();
      await (await store.writer(id, { append: false })).append(sourceOf(again));
      const twins = await Promise.all([store.writer(id, { append: true }), store.writer(id, { append: true })]);
      await Promise.all(twins.map((w) => w.commit(digestOf(again))));
      assert.deepEqual(await readAll(await store.read(digestOf(again))), again);
    });

    test('delete makes a blob absent, and deleting an absent blob is fine', async (store) => {
      const digest = await putBlob(store, bytes(1234, 16));
      await store.delete(digest);
      assert.equal(await store.stat(digest), undefined);
      await assert.rejects(store.read(digest), BlobNotFoundError);
      await store.delete(digest);
      await store.delete(digestOf('never stored'));
    });

    const largeMiB = opts.largeBlobMiB ?? 64;
    test(`a ${largeMiB} MiB blob streamed from a generator round-trips with its sha256`, async (store) => {
      const chunk = 1024 * 1024;
      const count = largeMiB;
      const sent = createHash('sha256');
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < count; i++) {
            const c = bytes(chunk, 1000 + i);
            sent.update(c);
            yield c;
          }
        })(),
      );
      const w = await store.writer(randomUUID(), { append: false });
      assert.equal(await w.append(source), chunk * count);
      const digest = `sha256:${sent.digest('hex')}` as Digest;
      await w.commit(digest);
      assert.deepEqual(await store.stat(digest), { size: chunk * count });
      const got = createHash('sha256');
      for await (const c of await store.read(digest)) got.update(c as Buffer);
      assert.equal(`sha256:${got.digest('hex')}`, digest);
    });

    test('presignedUrl gives an http(s) URL for a stored blob', async (store) => {
      assert.ok(store.presignedUrl, 'the driver implements presignedUrl');
      const data = bytes(10, 24);
      const digest = await putBlob(store, data);
      const url = new URL(await store.presignedUrl(digest, 60));
      assert.match(url.protocol, /^https?:$/);
      // "A URL a client may GET the blob from directly": a plain GET, no credentials of ours.
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
    });

    test('open reads a blob at positions and refuses a missing one', async (store) => {
      assert.ok(store.open, 'the driver implements open');
      const data = bytes(70_000, 27);
      const digest = await putBlob(store, data);
      const handle = await store.open(digest);
      try {
        assert.equal(handle.size, data.length);
        const buf = Buffer.alloc(1000);
        assert.equal(await handle.read(buf, 65_000), 1000);
        assert.deepEqual(buf, data.subarray(65_000, 66_000));
        // The same buffer again, at the end: a short read, then nothing.
        assert.equal(await handle.read(buf, 69_500), 500);
        assert.deepEqual(buf.subarray(0, 500), data.subarray(69_500));
        assert.equal(await handle.read(buf, 70_000), 0);
      } finally {
        await handle.close();
      }
      await assert.rejects(store.open(digestOf('nothing here')), BlobNotFoundError);
      await assert.rejects(store.open('sha256:../../etc/passwd' as Digest), /invalid digest/);
    });

    edgeContract(test, opts);

    it('names only tests of this suite in its skip list', () => {
      assert.deepEqual(
        [...reasons.keys()].filter((t) => !names.has(t)),
        [],
      );
    });
  });
}
