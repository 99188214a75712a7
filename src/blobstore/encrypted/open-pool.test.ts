/**
 * Opening downloads on the byte threads (open-pool.ts) over the fs driver, on real worker
 * threads: the blob-store contract through the pool; exact bytes for ranges across chunk and
 * slot boundaries, read as a stream and written to a destination (which must copy a piece before
 * its write completes, as a socket does, so a slot reused too early shows as wrong bytes); more
 * downloads at once than threads; and every way a download can end early (a destination that
 * goes away, a worker that dies, a chunk that fails) closing its file and leaving the pool idle.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEventListeners } from 'node:events';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { isDirectBody } from '../../core/direct-body.js';
import { digestHex, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { runBlobStoreSuite } from '../contract-suite.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, openFilesUnder, putBlob, readAll } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { BlobIntegrityError, HEADER_SIZE } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { fileMap, fileMapUnavailable } from './mapped-file.js';
import { nativeGcm, nativeGcmUnavailable } from './native-gcm.js';
import { OpenPool, OpenerLostError } from './open-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

const OPEN = 'open reads a blob at positions and refuses a missing one';
const PRESIGN = 'presignedUrl gives an http(s) URL for a stored blob';

/** A destination that copies each piece and completes the write a turn later, holding `hold` writes when asked to. */
class Sink extends Writable {
  readonly pieces: Buffer[] = [];
  held: Array<() => void> | undefined;
  constructor(private readonly opts: { goneAfter?: number } = {}) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pieces.push(Buffer.from(chunk));
    if (this.opts.goneAfter !== undefined && this.pieces.length >= this.opts.goneAfter) {
      // A client that hangs up: the write never completes.
      this.destroy();
      return;
    }
    if (this.held) this.held.push(() => cb());
    else setImmediate(cb);
  }
  get data(): Buffer {
    return Buffer.concat(this.pieces);
  }
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

const suiteThreads = new ByteThreads({ threads: 1 });
after(() => suiteThreads.close());
runBlobStoreSuite({
  name: 'encrypted over fs, opened on byte threads',
  create: async (dir) => createEncryptedBlobStore(createFsBlobStore({ root: dir }), keys(), { opening: new OpenPool(suiteThreads), inlineOpenBytes: 0 }),
  skip: [
    { reason: 'presigning is withheld: a URL to the inner store would hand out ciphertext', tests: [PRESIGN] },
    { reason: 'the encrypted store reads its inner store by handle itself; it offers no handle on ciphertext', tests: [OPEN] },
  ],
});

/** Where scripts/test.sh built the native opener, the pool uses it; CI insists on it. */
const native = nativeGcm() !== undefined;
if (!native && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER)) throw new Error(`no native opener: ${nativeGcmUnavailable()}`);

/** Where scripts/test.sh built the file-map addon (Linux), downloads read mapped files; CI insists on it. */
const mapping = fileMap() !== undefined;
if (!mapping && process.platform === 'linux' && (process.env.CI || process.env.BERTH_REQUIRE_NATIVE_CIPHER))
  throw new Error(`no mapped reads: ${fileMapUnavailable()}`);

// Each case four times: one thread a download, (stripe) two threads a download while both are
// free, one thread deciphering with Node's crypto although the native opener loads, and one
// reading the file with preads although it could be mapped.
for (const [stripe, nodeCrypto, preads] of [
  [false, false, false],
  [true, false, false],
  [false, true, false],
  [false, false, true],
] as const)
  describe(`open pool${stripe ? ', a download striped over two threads' : nodeCrypto ? ", Node's crypto" : preads ? ', preads' : ''}`, () => {
    const threads = new ByteThreads({ threads: 2 });
    // Small chunks and slots: many slot and chunk boundaries in little data.
    const pool = new OpenPool(threads, { slotBytes: 4096, slots: 3, stripe, native: !nodeCrypto, mapped: !preads });
    /** Every download that finished was opened by the cipher this variant names, from a mapped file or from preads as it names. */
    const cipherAsAsked = (): void => {
      const want = native && !nodeCrypto ? 'native' : 'node';
      assert.ok(pool.finished[want] > 0, JSON.stringify(pool.finished));
      assert.equal(pool.finished[want === 'native' ? 'node' : 'native'], 0, JSON.stringify(pool.finished));
      assert.equal(pool.finished.mapped, mapping && !preads ? pool.finished[want] : 0, JSON.stringify(pool.finished));
    };
    let root = '';
    let store: BlobStore;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-open-pool-'));
      // No inline opens (open-inline.test.ts has those): every download here goes through the pool.
      store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { chunkSize: 1024, opening: pool, inlineOpenBytes: 0 });
    });
    after(async () => {
      await threads.close();
      await rm(root, { recursive: true, force: true });
    });

    const pathOf = (digest: Digest): string => {
      const hex = digestHex(digest);
      return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
    };

    /** Writes a download to a Sink the way the blob GET handler does. */
    async function download(digest: Digest, range?: { start: number; end: number }, sink = new Sink()): Promise<Buffer> {
      const body = await store.read(digest, range);
      assert.ok(isDirectBody(body), 'a download from the pool writes itself');
      await body.writeTo(sink);
      return sink.data;
    }

    it('gives a small blob a ring of one chunk, and a warm pool allocates no ring for it', async () => {
      const data = bytes(700, 7);
      const digest = await putBlob(store, data);
      const wave = () => Promise.all(Array.from({ length: 20 }, () => download(digest)));
      for (const got of await wave()) assert.deepEqual(got, data);
      await until(() => pool.active === 0);
      const made = pool.ringsMade;
      const spare = pool.spareRingBytes;
      assert.ok(spare > 0 && spare <= 20 * 1024, `20 one-chunk downloads keep at most 20 chunk-sized rings, kept ${spare} bytes`);
      for (const got of await wave()) assert.deepEqual(got, data);
      await until(() => pool.active === 0);
      assert.equal(pool.ringsMade, made, 'the second wave reuses the rings of the first');
    });

    it('gives exact bytes for ranges across chunk and slot boundaries, read or written', async () => {
      const data = bytes(50_000, 1);
      const digest = await putBlob(store, data);
      const edges = [0, 1, 1023, 1024, 1025, 4095, 4096, 4097, 12_287, 12_288, 30_000, 49_151, 49_152, 49_999];
      for (const start of edges) {
        for (const end of [start, start + 1, start + 1023, start + 4096, start + 9000, 49_999, 60_000]) {
          if (end < start) continue;
          const want = data.subarray(start, Math.min(end, 49_999) + 1);
          assert.deepEqual(await readAll(await store.read(digest, { start, end })), want, `read ${start}-${end}`);
          assert.deepEqual(await download(digest, { start, end }), want, `written ${start}-${end}`);
        }
      }
      assert.deepEqual(await download(digest), data);
      assert.deepEqual(await readAll(await store.read(digest)), data);
      await until(() => pool.active === 0);
      assert.ok(pool.spareRings > 0, 'finished downloads give their rings back');
      // One at a time, every download of more than a stripe (4 chunks) had both threads.
      if (stripe) assert.ok(pool.striped > 50, `striped ${pool.striped}`);
      else assert.equal(pool.striped, 0);
      cipherAsAsked();
    });

    it('completes more downloads at once than it has threads, each with its own bytes', async () => {
      const blobs = Array.from({ length: 12 }, (_, i) => bytes(20_000 + i * 3001, 10 + i));
      const digests = await Promise.all(blobs.map((b) => putBlob(store, b)));
      const got = await Promise.all(digests.map((d, i) => (i % 2 ? download(d) : store.read(d).then(readAll))));
      for (const [i, g] of got.entries()) assert.deepEqual(g, blobs[i], `download ${i}`);
      await until(() => pool.active === 0);
    });

    it('aborts a download when one of its threads dies, closes its file, and serves the next', async () => {
      const data = bytes(300_000, 45);
      const digest = await putBlob(store, data);
      const before = await openFilesUnder(root);
      const striped = pool.striped;
      const sink = new Sink();
      sink.held = [];
      const done = download(digest, undefined, sink).then(
        () => undefined,
        (e: unknown) => e,
      );
      await until(() => sink.pieces.length > 0);
      // Both threads when striped (the second holds the odd stripes); else the first alone.
      assert.equal(pool.striped - striped, stripe ? 1 : 0);
      const second = threads.threads[1]!.worker;
      assert.ok(second, 'the second thread runs (earlier downloads used it)');
      await second.terminate();
      if (!stripe) {
        // The download's one thread is the first: the last one's death is not its concern.
        const held = sink.held;
        sink.held = undefined;
        for (const release of held) release();
        assert.equal(await done, undefined);
        assert.deepEqual(sink.data, data);
      } else {
        assert.ok((await done) instanceof OpenerLostError, 'aborted by the lost thread');
        assert.ok(sink.destroyed, 'the destination is cut');
        assert.ok(data.subarray(0, sink.data.length).equals(sink.data), "what was sent is the blob's prefix");
      }
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === before);
      assert.deepEqual(await download(digest), data);
    });

    it('stops reading and closes the file when the destination goes away midway', async () => {
      const data = bytes(200_000, 30);
      const digest = await putBlob(store, data);
      const before = await openFilesUnder(root);
      for (let i = 0; i < 10; i++) {
        const sink = new Sink({ goneAfter: 2 });
        const body = await store.read(digest);
        await assert.rejects((body as unknown as { writeTo(d: Writable): Promise<void> }).writeTo(sink));
        assert.ok(body.destroyed);
        // A reader that stops reading and lets go.
        const abandoned = await store.read(digest);
        abandoned.destroy();
      }
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === before);
      // The threads still serve.
      assert.deepEqual(await download(digest, { start: 5, end: 70_000 }), data.subarray(5, 70_001));
    });

    it('ends a download that was sent whole as finished, not as closed early, and lets its signal go', async () => {
      const data = bytes(20_000, 31);
      const digest = await putBlob(store, data);
      for (const range of [undefined, { start: 3, end: 9000 }]) {
        const signal = new AbortController().signal;
        const body = await store.read(digest, range, signal);
        assert.ok(isDirectBody(body));
        const sink = new Sink();
        await body.writeTo(sink);
        assert.deepEqual(sink.data, range ? data.subarray(range.start, range.end + 1) : data);
        // What the abort signal's watcher (and any pipeline) sees: an end, not a premature close,
        // which would cost an error with its stack on every download.
        await finished(body);
        assert.equal(getEventListeners(signal, 'abort').length, 0, 'the signal no longer holds the download');
      }
      await until(() => pool.active === 0);
    });

    it('stops a download whose signal aborts midway (the client went away): its file is closed and its rings go back', async () => {
      const data = bytes(200_000, 32);
      const digest = await putBlob(store, data);
      const before = await openFilesUnder(root);
      await until(() => pool.active === 0);
      const spare = pool.spareRings;
      const made = pool.ringsMade;
      const ac = new AbortController();
      const body = await store.read(digest, undefined, ac.signal);
      assert.ok(isDirectBody(body));
      const sink = new Sink();
      sink.held = [];
      const done = body.writeTo(sink).then(
        () => undefined,
        (e: unknown) => e,
      );
      await until(() => sink.pieces.length > 0);
      ac.abort();
      assert.equal(((await done) as Error | undefined)?.name, 'AbortError');
      assert.ok(body.destroyed);
      assert.ok(sink.destroyed, 'the destination is cut');
      await assert.rejects(finished(body), { name: 'AbortError' });
      // The socket's writes in flight complete (with an error): only then may the rings be reused.
      for (const release of sink.held.splice(0)) release();
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === before);
      await until(() => pool.spareRings - spare === pool.ringsMade - made);
      assert.deepEqual(await download(digest), data);
    });

    it('aborts the downloads of a worker that dies, closes their files, and serves the next on a fresh worker', async () => {
      const data = bytes(300_000, 40);
      const digest = await putBlob(store, data);
      const before = await openFilesUnder(root);
      // Writes that never complete: each ring fills and its worker waits for credit.
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
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === before);
      assert.deepEqual(await download(digest), data);
    });

    it('fails a download whose chunk fails authentication, before answering when it is the first, and closes the file', async () => {
      const data = bytes(20_000, 50);
      const digest = await putBlob(store, data);
      const good = await readFile(pathOf(digest));
      const before = await openFilesUnder(root);
      const bad = Buffer.from(good);
      bad[bad.length - 1]! ^= 1;
      await writeFile(pathOf(digest), bad);
      for (let i = 0; i < 5; i++) {
        const sink = new Sink();
        await assert.rejects(download(digest, undefined, sink), BlobIntegrityError);
        assert.ok(sink.destroyed);
        assert.ok(sink.data.length < data.length);
        await assert.rejects(readAll(await store.read(digest)), BlobIntegrityError);
      }
      bad[bad.length - 1]! ^= 1;
      bad[HEADER_SIZE + 3]! ^= 1;
      await writeFile(pathOf(digest), bad);
      for (let i = 0; i < 5; i++) await assert.rejects(store.read(digest), BlobIntegrityError);
      // Cut short (19 chunks of 1024 bytes, then 544; each stored with its 16-byte tag): by a byte
      // (the last chunk's tag fails), by the whole last chunk (the one now last was not sealed as
      // the final one), to 5 bytes past a chunk (no sealed size at all); read whole, and a range in
      // the chunk that fails (a range opens only the chunks it covers).
      for (const [cut, at] of [
        [1, 19_990],
        [544 + 16, 19_000],
        [544 + 16 + 1035, 100],
      ] as const) {
        await writeFile(pathOf(digest), good.subarray(0, good.length - cut));
        await assert.rejects(download(digest, { start: 0, end: 30_000 }), BlobIntegrityError, `cut by ${cut}`);
        await assert.rejects(download(digest, { start: at, end: at + 5 }), BlobIntegrityError, `cut by ${cut}, at ${at}`);
      }
      await writeFile(pathOf(digest), good);
      assert.deepEqual(await download(digest, { start: 18_500, end: 18_600 }), data.subarray(18_500, 18_601));
      await until(async () => pool.active === 0 && (await openFilesUnder(root)) === before);
      cipherAsAsked();
    });
  });

// Small chunks in large slots: the opening thread reads at most 256 KiB of whole chunks at once
// (open-task.ts READ_BATCH), so a 1 MiB slot of 1 KiB chunks fills in four reads, the later ones
// into a slot already partly filled, and the last read of a blob takes what is left.
describe('open pool, small chunks read in batches', () => {
  const threads = new ByteThreads({ threads: 1 });
  const pool = new OpenPool(threads, { slotBytes: 1024 * 1024, slots: 2 });
  let root = '';
  let store: BlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-open-batch-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { chunkSize: 1024, opening: pool, inlineOpenBytes: 0 });
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  it('gives exact bytes across batch and slot edges, and refuses a file cut inside a batch', async () => {
    const size = 2.5 * 1024 * 1024 + 333;
    const data = bytes(size, 77);
    const digest = await putBlob(store, data);
    const written = async (range?: { start: number; end: number }): Promise<Buffer> => {
      const sink = new Sink();
      const body = await store.read(digest, range);
      assert.ok(isDirectBody(body), 'a download from the pool writes itself');
      await body.writeTo(sink);
      return sink.data;
    };
    assert.deepEqual(await written(), data);
    assert.deepEqual(await readAll(await store.read(digest)), data);
    // Plaintext offsets of batch edges (every 256 chunks) and slot edges (every 1024 chunks).
    for (const start of [0, 1023, 256 * 1024 - 1, 256 * 1024, 1024 * 1024 - 5, 1024 * 1024 + 1, 2 * 1024 * 1024 + 100, size - 1]) {
      for (const len of [1, 300, 256 * 1024 + 7, 1024 * 1024 + 9]) {
        const end = Math.min(start + len - 1, size - 1);
        assert.deepEqual(await written({ start, end }), data.subarray(start, end + 1), `range ${start}-${end}`);
      }
    }
    const hex = digestHex(digest);
    const path = join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
    const good = await readFile(path);
    // Cut inside the third batch of the second slot: the bytes before it were whole chunks, the rest is missing.
    await writeFile(path, good.subarray(0, HEADER_SIZE + (1024 + 600) * (1024 + 16) + 100));
    await assert.rejects(written(), BlobIntegrityError);
    await assert.rejects(written({ start: 1024 * 1024, end: 2 * 1024 * 1024 }), BlobIntegrityError);
    assert.deepEqual(await written({ start: 5, end: 300_000 }), data.subarray(5, 300_001), 'the chunks before the cut still open');
    await writeFile(path, good);
    await until(() => pool.active === 0);
  });
});
