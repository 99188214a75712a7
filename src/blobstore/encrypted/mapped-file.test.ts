/**
 * Downloads read through mappings of the blob file (mapped-file.ts, native/file-map.cc): the
 * addon's argument checks and unmapping, a reader's windows (exact bytes across their edges, the
 * file's end, a refused mapping and the preads that follow it), and whole downloads through the open pool larger than a window:
 * exact bytes across window, chunk and slot edges, a file unlinked midway (as GC does), and a
 * chunk that fails its tag in a later window (nothing of it is let out). A file truncated under a
 * mapping reads zeros past its new end instead of killing the process (the SIGBUS guard).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isDirectBody } from '../../core/direct-body.js';
import { digestHex, type Digest } from '../../core/digest.js';
import type { BlobStore } from '../blob-store.js';
import { createFsBlobStore } from '../fs/fs-blob-store.js';
import { bytes, putBlob } from '../testing.js';
import { ByteThreads } from '../workers/threads.js';
import { BlobIntegrityError, HEADER_SIZE, TAG_SIZE } from './chunk-format.js';
import { createEncryptedBlobStore } from './encrypted-blob-store.js';
import { BlobFileUnreadableError, FdSource } from './fd-source.js';
import { fileMap, fileMapUnavailable, MappedFile, WINDOW, type FileMap } from './mapped-file.js';
import { OpenPool } from './open-pool.js';
import type { WrappingKeys } from './wrapping-keys.js';

const linux = process.platform === 'linux';
const fm = fileMap();
if (linux && !fm) throw new Error(`the file-map addon does not load (scripts/build-native.mjs builds it): ${fileMapUnavailable()}`);
const skip = linux ? false : 'mappings are Linux only';

/** Collects what is written, completing writes a turn later, or holding them while `held` is set. */
class Sink extends Writable {
  readonly pieces: Buffer[] = [];
  held: Array<() => void> | undefined;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pieces.push(Buffer.from(chunk));
    if (this.held) this.held.push(() => cb());
    else setImmediate(cb);
  }
  get data(): Buffer {
    return Buffer.concat(this.pieces);
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('file-map addon and MappedFile', { skip }, () => {
  let dir = '';
  let path = '';
  const data = bytes(2 * WINDOW + 12_345, 3);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-mapped-'));
    path = join(dir, 'file');
    await writeFile(path, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses bad arguments with an error, and a bad fd with -errno', () => {
    const addon = fm!;
    const fd = openSync(path, 'r');
    try {
      assert.throws(() => addon.map(fd, 1, 10), /page size/);
      assert.throws(() => addon.map(fd, 0, 0), /length/);
      assert.throws(() => addon.map(-1, 0, 10), /fd/);
      assert.throws(() => (addon.map as (...a: unknown[]) => unknown)('3', 0, 10), /map\(fd, offset, length\)/);
      assert.throws(() => (addon.unmap as (a: unknown) => unknown)(new Uint8Array(4)), /unmap\(arrayBuffer\)/);
      const closed = openSync(path, 'r');
      closeSync(closed);
      assert.ok((addon.map(closed, 0, 4096) as number) < 0, 'a closed fd: -EBADF');
      assert.equal(addon.unmap(new ArrayBuffer(8)), false, 'not a mapping');
      const ab = addon.map(fd, 65_536, 100_000);
      assert.ok(ab instanceof ArrayBuffer);
      const view = Buffer.from(ab);
      assert.deepEqual(view, data.subarray(65_536, 165_536));
      assert.equal(addon.unmap(ab), true);
      assert.equal(view.length, 0, 'a view of an unmapped buffer reads nothing');
      assert.equal(addon.unmap(ab), false, 'unmapped once');
    } finally {
      closeSync(fd);
    }
  });

  it('reads exact bytes across window edges and up to the end of the file', () => {
    const fd = openSync(path, 'r');
    const m = MappedFile.of(fm!, fd)!;
    try {
      for (const at of [0, 96, WINDOW - 100, WINDOW - 1, WINDOW, WINDOW + 7, 2 * WINDOW - 65_536, data.length - 10, data.length - 1]) {
        for (const want of [1, 100, 65_552, 262_208]) {
          const got = m.read(at, want)!;
          assert.deepEqual(got, data.subarray(at, Math.min(at + want, data.length)), `${at}+${want}`);
        }
      }
      assert.equal(m.read(data.length, 100)!.length, 0, 'past the end: nothing');
      // Read in order from the header on, as a download does: views stay right while the window moves.
      let sum = 0;
      for (let at = HEADER_SIZE; at < data.length; at += 262_208) {
        const got = m.read(at, 262_208)!;
        assert.ok(got.equals(data.subarray(at, at + 262_208)), `in order at ${at}`);
        sum += got.length;
      }
      assert.equal(sum, data.length - HEADER_SIZE);
      const last = m.read(100, 10)!;
      m.release();
      assert.equal(last.length, 0, 'released: the window is unmapped');
      assert.deepEqual(m.read(100, 10), data.subarray(100, 110), 'maps again after a release');
    } finally {
      m.release();
      closeSync(fd);
    }
  });

  it('says so when the kernel refuses a mapping, and the download preads the same bytes', () => {
    const refusing: FileMap = { map: () => -19, unmap: () => false, poisoned: () => false };
    const fd = openSync(path, 'r');
    try {
      assert.equal(MappedFile.of(refusing, fd)!.read(0, 10), undefined);
      const refused = new FdSource(fd, true, refusing);
      assert.equal(refused.isMapped, true, 'mapped until a mapping is refused');
      assert.deepEqual(refused.read(WINDOW - 5, 100), data.subarray(WINDOW - 5, WINDOW + 95));
      assert.equal(refused.isMapped, false, 'refused: preads from then on');
      assert.deepEqual(refused.read(data.length - 3, 100), data.subarray(data.length - 3));
      const mapped = new FdSource(fd, true, fm);
      assert.deepEqual(mapped.read(WINDOW - 5, 100), data.subarray(WINDOW - 5, WINDOW + 95));
      assert.equal(mapped.isMapped, true);
      mapped.release();
      const off = new FdSource(fd, false, fm);
      assert.deepEqual(off.read(7, 100), data.subarray(7, 107));
      assert.equal(off.isMapped, false, 'asked not to map');
    } finally {
      closeSync(fd);
    }
  });
});

describe('the SIGBUS guard: a file cut short under its mapping', { skip }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-guard-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads zeros past the new end, marks the mapping poisoned, and the process lives', () => {
    const addon = fm!;
    const path = join(dir, 'cut');
    const data = bytes(1024 * 1024, 9);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      const ab = addon.map(fd, 0, data.length) as ArrayBuffer;
      const view = Buffer.from(ab);
      assert.ok(view.subarray(0, 300_000).equals(data.subarray(0, 300_000)), 'read before the cut');
      assert.equal(addon.poisoned(ab), false);
      truncateSync(path, 200_000);
      // Without the guard this read is a SIGBUS and the test process dies.
      const past = Buffer.from(view.subarray(524_288, 600_000));
      assert.ok(past.equals(Buffer.alloc(past.length)), 'zeros past the new end');
      assert.equal(addon.poisoned(ab), true);
      assert.ok(view.subarray(0, 4096).equals(data.subarray(0, 4096)), 'the pages the file still has read as before');
      assert.equal(addon.unmap(ab), true);
      assert.equal(addon.poisoned(ab), false, 'unmapped: not a live mapping');
    } finally {
      closeSync(fd);
    }
  });

  it('does not swallow a SIGBUS that is not a fault of its mappings: the process dies of it', () => {
    // A process that loaded the addon (so the handler is installed) sends itself SIGBUS.
    const script = `require(${JSON.stringify(fileURLToPath(new URL('../../../native/file-map.node', import.meta.url)))}); process.kill(process.pid, 'SIGBUS'); setTimeout(() => {}, 10000);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGBUS', `exit ${r.status}, ${r.stderr}`);
  });

  it('fails the read with an error naming the file, through an FdSource', () => {
    const path = join(dir, 'cut-source');
    const data = bytes(3 * WINDOW, 11);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    const src = new FdSource(fd, true, fm);
    try {
      assert.ok(src.read(0, 262_144).equals(data.subarray(0, 262_144)));
      assert.equal(src.failure(), undefined, 'nothing faulted yet');
      truncateSync(path, 100_000);
      const got = src.read(WINDOW + 4096, 262_144);
      assert.ok(got.equals(Buffer.alloc(got.length)), 'zeros, not the bytes');
      assert.equal(src.isMapped, true);
      src.release();
      const e = src.failure();
      assert.ok(e instanceof BlobFileUnreadableError, 'the mark outlives the window');
      assert.match(e.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is truncated or unreadable`));
    } finally {
      src.release();
      closeSync(fd);
    }
  });
});

function keys(): WrappingKeys {
  const key = { id: randomBytes(16), key: randomBytes(32) };
  return { current: async () => key, byId: async () => key };
}

describe('open pool, blobs larger than a mapped window', { skip }, () => {
  const threads = new ByteThreads({ threads: 1 });
  const pool = new OpenPool(threads, { slotBytes: 1024 * 1024, slots: 3 });
  const chunk = 64 * 1024;
  const size = 2 * WINDOW + 1_000_005;
  const data = bytes(size, 9);
  let root = '';
  let store: BlobStore;
  let digest: Digest;
  let path = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-mapped-pool-'));
    store = createEncryptedBlobStore(createFsBlobStore({ root }), keys(), { chunkSize: chunk, opening: pool, inlineOpenBytes: 0 });
    digest = await putBlob(store, data);
    const hex = digestHex(digest);
    path = join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  });
  after(async () => {
    await threads.close();
    await rm(root, { recursive: true, force: true });
  });

  async function download(range?: { start: number; end: number }, sink = new Sink()): Promise<Buffer> {
    const body = await store.read(digest, range);
    assert.ok(isDirectBody(body));
    await body.writeTo(sink);
    return sink.data;
  }

  /** The plaintext offset whose chunk holds file offset `at`. */
  const plainAt = (at: number): number => Math.floor((at - HEADER_SIZE) / (chunk + TAG_SIZE)) * chunk;

  it('gives exact bytes across window, chunk and slot edges, from mapped reads', async () => {
    const mapped = pool.finished.mapped;
    assert.ok((await download()).equals(data), 'whole');
    for (const edge of [plainAt(WINDOW), plainAt(2 * WINDOW), 1024 * 1024, 8 * 1024 * 1024, 16 * 1024 * 1024]) {
      for (const [from, len] of [
        [-1, 2],
        [-chunk - 3, 2 * chunk + 9],
        [-300_000, 1_200_000],
        [5, 100],
      ] as const) {
        const start = Math.max(0, edge + from);
        const end = Math.min(size - 1, start + len - 1);
        assert.ok((await download({ start, end })).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
      }
    }
    await until(() => pool.active === 0);
    assert.ok(pool.finished.mapped - mapped >= 21, `mapped reads: ${JSON.stringify(pool.finished)}`);
  });

  it('finishes a download whose file is unlinked midway (GC), with the same bytes', async () => {
    const good = await readFile(path);
    const mapped = pool.finished.mapped;
    const sink = new Sink();
    sink.held = [];
    const done = download(undefined, sink);
    // The ring is full and the thread waits for credit, its window mapped.
    await until(() => sink.pieces.length > 0);
    await unlink(path);
    // A new file where it was: the download keeps reading the one it opened.
    await writeFile(path, Buffer.alloc(good.length, 0xee));
    const held = sink.held;
    sink.held = undefined;
    for (const release of held) release();
    assert.ok((await done).equals(data));
    await until(() => pool.active === 0);
    assert.equal(pool.finished.mapped - mapped, 1);
    await writeFile(path, good);
  });

  it('lets nothing of a chunk that fails its tag out, in a later window', async () => {
    const good = await readFile(path);
    const mapped = pool.finished.mapped;
    // Chunk 200: its sealed bytes lie past the first window.
    const bad = Buffer.from(good);
    const at = HEADER_SIZE + 200 * (chunk + TAG_SIZE) + 77;
    assert.ok(at > WINDOW);
    bad[at]! ^= 1;
    await writeFile(path, bad);
    try {
      const sink = new Sink();
      await assert.rejects(download(undefined, sink), BlobIntegrityError);
      assert.ok(sink.data.length <= 200 * chunk, `sent ${sink.data.length}`);
      assert.ok(sink.data.length >= 1024 * 1024, `sent ${sink.data.length}`);
      assert.ok(sink.data.equals(data.subarray(0, sink.data.length)), "what was sent is the blob's prefix");
      // A range that ends before the chunk opens; one that reaches it fails.
      assert.ok((await download({ start: 100, end: 200 * chunk - 1 })).equals(data.subarray(100, 200 * chunk)));
      await assert.rejects(download({ start: 199 * chunk, end: 200 * chunk }), BlobIntegrityError);
    } finally {
      await writeFile(path, good);
    }
    await until(() => pool.active === 0);
    assert.equal(pool.finished.mapped - mapped, 1, 'the range that opened was read mapped');
  });
});
