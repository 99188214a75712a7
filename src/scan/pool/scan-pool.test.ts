import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { inventoryOf } from '../inventory/inventory.js';
import { DEBIAN_OS_RELEASE, DPKG_STATUS } from '../inventory/testing/fixtures.js';
import { ScanAbortedError, ScanError } from '../layers/errors.js';
import { streamOf, tar } from '../layers/testing/tar-writer.js';
import { ALPINE_TWO_FRAMES } from '../layers/testing/zstd-fixtures.js';
import { ScanPool } from './scan-pool.js';

const never = new AbortController().signal;
const debian = () =>
  gzipSync(
    tar([
      { path: 'etc/os-release', data: DEBIAN_OS_RELEASE },
      { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
    ]),
  );

async function* layersOf(...bufs: Buffer[]): AsyncGenerator<Readable> {
  for (const b of bufs) yield streamOf(b, 10_000);
}

/** A source that never delivers a byte, and says when it was opened and destroyed. */
function stalled(): { stream: Readable; opened: Promise<void>; destroyed: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const stream = new Readable({ read: () => open() });
  const destroyed = new Promise<void>((r) => stream.once('close', () => r()));
  return { stream, opened, destroyed };
}

test('a worker inventories the layers as the event loop would, gzip, zstd and plain alike', async () => {
  const pool = new ScanPool({ size: 1 });
  const layers = [
    debian(),
    ALPINE_TWO_FRAMES,
    tar([{ path: 'app/package-lock.json', data: JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0' } } }) }]),
  ];
  const got = await pool.inventory(layersOf(...layers), never);
  assert.deepEqual(got, await inventoryOf(layers.map((b) => streamOf(b))));
  assert.ok(got.packages.some((p) => p.name === 'zlib1g') && got.packages.some((p) => p.name === 'musl') && got.packages.some((p) => p.name === 'a'));
});

test('a scan error comes back typed: a truncated layer fails with its reason and message', async () => {
  const pool = new ScanPool({ size: 1 });
  const whole = tar([
    { path: 'etc/os-release', data: DEBIAN_OS_RELEASE },
    { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
  ]);
  await assert.rejects(pool.inventory(layersOf(whole.subarray(0, 1024)), never), (e: unknown) => {
    assert.ok(e instanceof ScanError);
    assert.equal(e.status, 'FAILED');
    assert.equal(e.reason, 'corrupt');
    assert.match(e.message, /truncated/);
    return true;
  });
});

test('a worker that runs out of memory fails its scan, and the pool goes on scanning', async () => {
  // Symlinks are always recorded in the merged view, targets and all: 12,000 with 4,000-byte
  // targets (PAX linkpath) are 48 MB of strings, twice the worker's heap here.
  const target = 't/'.repeat(2000);
  const links = gzipSync(tar(Array.from({ length: 12_000 }, (_, i) => ({ path: `l/${i}`, type: 'symlink' as const, linkname: `${target}${i}` }))));
  const pool = new ScanPool({ size: 1, heapMb: 24 });
  await assert.rejects(pool.inventory(layersOf(links), never), (e: unknown) => {
    assert.ok(e instanceof ScanError);
    assert.equal(e.status, 'FAILED');
    assert.equal(e.reason, 'memory');
    assert.match(e.message, /out of memory/);
    return true;
  });
  assert.ok((await pool.inventory(layersOf(debian()), never)).os);
});

test('the layer source is read no further ahead of the worker than its window', async () => {
  // A 256 MiB layer whose first header is garbage: the worker fails at byte 0. Without
  // backpressure the pool would read the whole source before hearing of it.
  let pulled = 0;
  async function* junk(): AsyncGenerator<Buffer> {
    const block = Buffer.alloc(64 * 1024, 0x55);
    for (let i = 0; i < 4096; i++) {
      pulled += block.length;
      yield block;
    }
  }
  const source = Readable.from(junk(), { objectMode: false, highWaterMark: 64 * 1024 });
  const pool = new ScanPool({ size: 1 });
  await assert.rejects(
    pool.inventory(
      (async function* () {
        yield source;
      })(),
      never,
    ),
    (e: unknown) => e instanceof ScanError && e.reason === 'corrupt',
  );
  assert.ok(pulled <= 2 * 1024 * 1024, `read ${pulled} bytes of the source`);
  await new Promise<void>((r) => (source.destroyed ? r() : source.once('close', () => r())));
});

test('an abort ends the scan and its worker, and releases a stalled source', async () => {
  const pool = new ScanPool({ size: 1 });
  const abort = new AbortController();
  const s = stalled();
  const scan = pool.inventory(
    (async function* () {
      yield s.stream;
    })(),
    abort.signal,
  );
  await s.opened;
  abort.abort();
  await assert.rejects(scan, ScanAbortedError);
  await s.destroyed;
});

test('at most `size` scans run at once; the next starts when one ends', async () => {
  const pool = new ScanPool({ size: 1 });
  const abort = new AbortController();
  const first = stalled();
  const running = pool.inventory(
    (async function* () {
      yield first.stream;
    })(),
    abort.signal,
  );
  await first.opened;
  let secondStarted = false;
  const waiting = pool.inventory(
    (async function* () {
      secondStarted = true;
      yield streamOf(debian());
    })(),
    never,
  );
  // Were the slot not held, the second scan would have opened its layers by now.
  for (let i = 0; i < 20; i++) await turn();
  assert.equal(secondStarted, false);
  abort.abort();
  await assert.rejects(running, ScanAbortedError);
  assert.ok((await waiting).os);
  assert.equal(secondStarted, true);
});
