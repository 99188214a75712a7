/**
 * Opening downloads on the byte threads from a store with no fd (S3, on a real server started by
 * scripts/s3-test-server.sh): the main thread copies the ranged GET's sealed bytes into an input
 * ring (open-feed.ts), the worker opens them into the download's ring. The blob-store contract
 * through the pool; exact bytes for ranges across chunk, input-slot and output-slot boundaries,
 * read and written; many downloads at once; and every way a download can end early (a client
 * that hangs up, a worker that dies) cutting the S3 stream and leaving the pool idle.
 */
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { isDirectBody } from '../../core/direct-body.js';
import type { Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createMemoryBlobStore } from '../memory/memory-blob-store.js';
import { createS3BlobStore, createS3Client, parseS3Location, type S3Location } from '../s3/s3-blob-store.js';
import { startS3TestServer } from '../s3/testing/s3-test-server.js';
import { bytes, putBlob, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { nativeGcm } from './native-gcm.js';
import { OpenPool, OpenerLostError } from './open-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

const server = await startS3TestServer();
if ('unavailable' in server && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server on CI: ${server.unavailable}`);
const skip = 'unavailable' in server ? `no S3 server on this machine (${server.unavailable})` : undefined;
const runPrefix = `berth-test-${randomUUID()}`;

function location(prefix = `${runPrefix}/${randomUUID()}`): S3Location {
  if ('unavailable' in server) throw new Error('unreachable');
  return parseS3Location(`s3://${server.bucket}/${prefix}`, {
    endpoint: server.endpoint,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    forcePathStyle: true,
  });
}

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

/** A destination that copies each piece and completes the write a turn later (as a socket would, so a slot reused early shows). */
class Sink extends Writable {
  readonly pieces: Buffer[] = [];
  held: Array<() => void> | undefined;
  constructor(private readonly goneAfter?: number) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pieces.push(Buffer.from(chunk));
    // A client that hangs up: the write never completes.
    if (this.goneAfter !== undefined && this.pieces.length >= this.goneAfter) this.destroy();
    else if (this.held) this.held.push(() => cb());
    else setImmediate(cb);
  }
  get data(): Buffer {
    return Buffer.concat(this.pieces);
  }
}

/** `inner`'s first `n` bytes, then nothing until break() fails the stream and cuts `inner`. */
function holdAfter(inner: Readable, n: number): { stream: Readable; break: () => void } {
  let seen = 0;
  const stream = new Readable({
    read: () => void inner.resume(),
    destroy: (err, cb) => {
      inner.destroy();
      cb(err);
    },
  });
  inner.on('data', (c: Buffer) => {
    const take = c.subarray(0, Math.max(0, n - seen));
    seen += take.length;
    if ((take.length > 0 && !stream.push(take)) || seen >= n) inner.pause();
  });
  inner.on('error', (e) => stream.destroy(e));
  return { stream, break: () => stream.destroy(new Error('connection to S3 reset')) };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

if (skip) it('opening downloads from S3 on byte threads', { skip }, () => undefined);
else
  describe('open pool over S3', { concurrency: 2 }, () => {
    const threads = new ByteThreads({ threads: 2 });
    // A thread routes replies to one pool: the contract suite's stores share a pool on threads of their own.
    const suiteThreads = new ByteThreads({ threads: 1 });
    const suitePool = new OpenPool(suiteThreads);
    after(async () => {
      await Promise.all([threads.close(), suiteThreads.close()]);
      try {
        const loc = location(runPrefix);
        const raw = createS3Client(loc);
        const res = await raw.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: `${runPrefix}/` }));
        for (const o of res.Contents ?? []) await raw.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: o.Key! }));
      } finally {
        if (!('unavailable' in server)) await server.stop();
      }
    });

    runBlobStoreSuite({
      name: 'encrypted over s3, opened on byte threads',
      create: async () => createEncryptedBlobStore(createS3BlobStore(location()), keys(), { opening: suitePool }),
      // Every call is a round trip to the S3 server: four at a time, on stores of their own.
      concurrency: 4,
      // Two parts of 10 MiB (the default partSize) and a tail.
      largeBlobMiB: 26,
      skip: [
        {
          reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext',
          tests: ['presignedUrl gives an http(s) URL for a stored blob'],
        },
        { reason: 'the encrypted store offers no handle on ciphertext', tests: ['open reads a blob at positions and refuses a missing one'] },
      ],
    });

    // The downloads' own tests share a pool and watch its state (and one kills its threads): one
    // after another (a nested suite would inherit the concurrency of its parent), beside the
    // contract suite, which has stores, a pool and threads of its own.
    describe('downloads', { concurrency: 1 }, () => {
      // Small chunks (1040 stored bytes) and slots (4096): chunks straddle input slots, many boundaries in little data.
      const pool = new OpenPool(threads, { slotBytes: 4096, slots: 3 });
      /** Every S3 stream the encrypted store read, to see each one ended or cut. */
      const streams: Readable[] = [];
      const s3 = createS3BlobStore(location());
      /** When set, the next body read stops after this many bytes, and fails when breakS3() is called (as a dropped connection would). */
      let cutAfter: number | undefined;
      let breakS3: () => void = () => undefined;
      const tracked: BlobStore = {
        ...s3,
        read: async (digest, range, signal) => {
          const s = await s3.read(digest, range, signal);
          streams.push(s);
          const cut = range && range.start > 0 ? cutAfter : undefined;
          if (cut === undefined) return s;
          cutAfter = undefined;
          const held = holdAfter(s, cut);
          breakS3 = held.break;
          return held.stream;
        },
      };
      const storeKeys = keys();
      const store = createEncryptedBlobStore(tracked, storeKeys, { chunkSize: 1024, opening: pool });
      const released = () => streams.every((s) => s.destroyed || s.readableEnded);

      /**
       * Stores `data` in S3 as `store` would have sealed it, with a handful of requests: sealed in
       * memory, then committed whole through the plain S3 driver under the plaintext's digest (as
       * the encrypted store's own commit does). These tests are about downloads; an encrypted upload
       * through S3 staging is ~50 requests, and the contract suite above makes plenty of those.
       */
      async function putSealed(data: Buffer, wrapping: WrappingKeys = storeKeys): Promise<Digest> {
        const memory = createMemoryBlobStore();
        const digest = await putBlob(createEncryptedBlobStore(memory, wrapping, { chunkSize: 1024 }), data);
        await putBlob(s3, await readAll(await memory.read(digest)), digest);
        return digest;
      }

      async function download(digest: Digest, range?: { start: number; end: number }, sink = new Sink()): Promise<Buffer> {
        const body = await store.read(digest, range);
        assert.ok(isDirectBody(body), 'a download from S3 is opened on the byte threads and writes itself');
        await body.writeTo(sink);
        return sink.data;
      }

      it('gives exact bytes for ranges across chunk and slot boundaries, read or written', async () => {
        const data = bytes(30_000, 1);
        const digest = await putSealed(data);
        for (const start of [0, 1, 1023, 1024, 4095, 4096, 4160, 8191, 12_288, 29_695, 29_999]) {
          // The ends of one start side by side: each range is three round trips to S3 (stat,
          // header, body), and the pool serves many downloads at once anyway.
          await Promise.all(
            [start, start + 1023, start + 4096, start + 9000, 40_000].map(async (end) => {
              const want = data.subarray(start, Math.min(end, 29_999) + 1);
              assert.deepEqual(await readAll(await store.read(digest, { start, end })), want, `read ${start}-${end}`);
              assert.deepEqual(await download(digest, { start, end }), want, `written ${start}-${end}`);
            }),
          );
        }
        assert.deepEqual(await download(digest), data);
        await until(() => pool.active === 0 && released());
        // Fed downloads decipher in place too, where the native opener loads (native-gcm.ts).
        const native = nativeGcm() !== undefined;
        assert.ok(pool.finished[native ? 'native' : 'node'] > 0, JSON.stringify(pool.finished));
        assert.equal(pool.finished[native ? 'node' : 'native'], 0, JSON.stringify(pool.finished));
      });

      it('completes many downloads at once, each with its own bytes', async () => {
        const blobs = Array.from({ length: 16 }, (_, i) => bytes(20_000 + i * 3001, 10 + i));
        const digests = await Promise.all(blobs.map((b) => putSealed(b)));
        const got = await Promise.all(digests.map((d, i) => (i % 2 ? download(d) : store.read(d).then(readAll))));
        for (const [i, g] of got.entries()) assert.deepEqual(g, blobs[i], `download ${i}`);
        await until(() => pool.active === 0 && released());
      });

      it('gives exact bytes with lean rings and lean input rings once the full share of the budget is taken, and frees the budget', async () => {
        // A pool of its own on a thread of its own (a thread routes replies to one pool). Full: 12 KiB
        // ring + 8 KiB input; lean: 2 KiB + 2 KiB (chunks of 1040 stored bytes straddle its 1 KiB
        // input slots). 48 KiB: one full download, then lean ones; more wait for room.
        const leanThreads = new ByteThreads({ threads: 1 });
        try {
          // Downloads that wait for room wait as long as a loaded machine needs: the default 5 s
          // before a 429 is a clock, and the refusal is not what this test is about.
          const leanPool = new OpenPool(leanThreads, { slotBytes: 4096, slots: 3, bufferBytes: 48 * 1024, bufferWaitMs: 120_000 });
          const leanKeys = keys();
          const leanStore = createEncryptedBlobStore(tracked, leanKeys, { chunkSize: 1024, opening: leanPool });
          const blobs = Array.from({ length: 12 }, (_, i) => bytes(20_000 + i * 3001, 50 + i));
          const digests = await Promise.all(blobs.map((b) => putSealed(b, leanKeys)));
          const got = await Promise.all(
            digests.map(async (d, i) => {
              const body = await leanStore.read(d, i % 3 ? undefined : { start: 1000, end: 15_000 });
              assert.ok(leanPool.budget.held <= 48 * 1024, `held ${leanPool.budget.held}`);
              if (!isDirectBody(body)) assert.fail('a download from S3 writes itself');
              const sink = new Sink();
              await body.writeTo(sink);
              return sink.data;
            }),
          );
          for (const [i, g] of got.entries()) assert.deepEqual(g, i % 3 ? blobs[i] : blobs[i]!.subarray(1000, 15_001), `download ${i}`);
          assert.ok(leanPool.budget.leanGrants > 0, 'some downloads had lean rings');
          await until(() => leanPool.active === 0 && leanPool.budget.held === 0 && released());
        } finally {
          await leanThreads.close();
        }
      });

      it('cuts the S3 stream and frees the download when the client hangs up midway', async () => {
        const data = bytes(400_000, 30);
        const digest = await putSealed(data);
        for (let i = 0; i < 6; i++) {
          const sink = new Sink(2);
          const body = await store.read(digest);
          await assert.rejects((body as unknown as { writeTo(d: Writable): Promise<void> }).writeTo(sink));
          assert.ok(body.destroyed);
          (await store.read(digest)).destroy();
        }
        await until(() => pool.active === 0 && released());
        assert.ok(
          streams.some((s) => s.destroyed && !s.readableEnded),
          'a stream was cut before its end',
        );
        assert.deepEqual(await download(digest, { start: 5, end: 70_000 }), data.subarray(5, 70_001));
      });

      it('fails a download whose S3 stream breaks midway, with that error, and serves the next', async () => {
        const data = bytes(400_000, 35);
        const digest = await putSealed(data);
        cutAfter = 100_000;
        const sink = new Sink();
        const done = download(digest, undefined, sink);
        // Broken once bytes reach the client: the S3 socket's reads are too large to cut by size alone.
        await until(() => sink.pieces.length > 0);
        breakS3();
        await assert.rejects(done, /connection to S3 reset/);
        assert.ok(sink.destroyed, 'the destination is destroyed, so a client sees a cut response');
        assert.ok(sink.data.length < data.length);
        assert.deepEqual(sink.data, data.subarray(0, sink.data.length), 'what was sent before the break is the blob');
        await until(() => pool.active === 0 && released());
        assert.deepEqual(await download(digest), data);
      });

      it('fails the downloads of a worker that dies, cutting their S3 streams, and serves the next on a fresh worker', async () => {
        const data = bytes(400_000, 40);
        const digest = await putSealed(data);
        const sinks = [new Sink(), new Sink(), new Sink()];
        for (const s of sinks) s.held = [];
        const done = sinks.map((s) =>
          download(digest, undefined, s).then(
            () => undefined,
            (e: unknown) => e,
          ),
        );
        await until(() => sinks.every((s) => s.pieces.length > 0));
        await Promise.all(threads.liveWorkers().map((w) => w.terminate()));
        for (const e of await Promise.all(done)) assert.ok(e instanceof OpenerLostError, `aborted with ${String(e)}`);
        for (const s of sinks) assert.ok(s.destroyed, 'the destination is destroyed, so a client sees a cut response');
        await until(() => pool.active === 0 && released());
        assert.deepEqual(await download(digest), data);
      });
    });
  });
