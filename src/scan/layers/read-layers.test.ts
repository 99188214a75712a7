import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CorruptLayerError } from './errors.js';
import { readLayers, type KeepRule, type Prober } from './read-layers.js';
import { streamOf, tar, type TarSpec } from './testing/tar-writer.js';
import { ALPINE_SINGLE_FRAME, ALPINE_TWO_FRAMES } from './testing/zstd-fixtures.js';

const keepAll: KeepRule = { id: 'all', match: (p) => !p.startsWith('skip/'), maxBytes: 1024 };
const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 333);
const text = (b: Buffer | undefined) => b?.toString();

test('merges layers: upper files replace lower ones, others stay', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'etc/os-release', data: 'v1' },
        { path: 'etc/keep', data: 'k' },
      ]),
      streamOf(tar([{ path: './etc/os-release', data: 'v2' }])),
    ],
    { rules: [keepAll] },
  );
  assert.equal(text(view.read('etc/os-release')), 'v2');
  assert.equal(text(view.read('/etc/keep')), 'k');
  assert.deepEqual(
    [...view.files()].map((f) => f.path),
    ['etc/keep', 'etc/os-release'],
  );
  assert.equal(view.stats.layers, 2);
  assert.equal(view.keptBytes, 3);
});

test('reads gzip, zstd and plain layers in one image', async () => {
  const seen: string[] = [];
  const view = await readLayers([layer([{ path: 'a', data: 'A' }]), streamOf(ALPINE_TWO_FRAMES, 100), streamOf(tar([{ path: 'b', data: 'B' }]))], {
    rules: [keepAll],
    onLayer: ({ compression }) => seen.push(compression),
  });
  assert.deepEqual(seen, ['gzip', 'zstd', 'none']);
  assert.match(text(view.read('lib/apk/db/installed')) ?? '', /P:busybox/);
  assert.equal(text(view.read('a')), 'A');
  assert.equal(text(view.read('b')), 'B');
});

test('accepts an async iterable of layers', async () => {
  async function* gen() {
    yield layer([{ path: 'x', data: '1' }]);
    yield layer([{ path: 'y', data: '2' }]);
  }
  const view = await readLayers(gen(), { rules: [keepAll] });
  assert.deepEqual(
    [...view.files()].map((f) => [f.path, text(f.data)]),
    [
      ['x', '1'],
      ['y', '2'],
    ],
  );
});

test('.wh.<name> removes a lower file and a lower directory tree', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'var/lib/dpkg/status', data: 'lower' },
        { path: 'usr/lib/python3/dist-packages/x.dist-info/METADATA', data: 'm' },
        { path: 'usr/lib/python3/dist-packages/y.dist-info/METADATA', data: 'n' },
      ]),
      layer([{ path: 'var/lib/dpkg/.wh.status' }, { path: 'usr/lib/python3/dist-packages/.wh.x.dist-info' }]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(view.read('var/lib/dpkg/status'), undefined);
  assert.equal(view.read('usr/lib/python3/dist-packages/x.dist-info/METADATA'), undefined);
  assert.equal(text(view.read('usr/lib/python3/dist-packages/y.dist-info/METADATA')), 'n');
  assert.equal(view.keptBytes, 1);
});

test('a whiteout never removes what its own layer wrote, whatever the order', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'etc/app/conf', data: 'old' },
        { path: 'etc/app/other', data: 'o' },
      ]),
      layer([{ path: 'etc/app/conf', data: 'new' }, { path: 'etc/.wh.app' }]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(text(view.read('etc/app/conf')), 'new');
  assert.equal(view.read('etc/app/other'), undefined);
});

test("an opaque directory hides all lower children, keeps its own layer's and later ones", async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'opt/a', data: 'a' },
        { path: 'opt/sub/b', data: 'b' },
        { path: 'other', data: 'x' },
      ]),
      layer([{ path: 'opt/c', data: 'c' }, { path: 'opt/.wh..wh..opq' }]),
      layer([{ path: 'opt/d', data: 'd' }]),
    ],
    { rules: [keepAll] },
  );
  assert.deepEqual(
    [...view.files()].map((f) => f.path),
    ['opt/c', 'opt/d', 'other'],
  );
});

test('a file in an upper layer that nobody asked for still hides the lower copy', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'etc/os-release', data: 'lower' },
        { path: 'dir/inner', data: 'i' },
      ]),
      layer([
        { path: 'etc/os-release', type: 'fifo' },
        { path: 'skip/unused', data: 'u' },
        { path: 'dir', type: 'symlink', linkname: 'elsewhere' },
      ]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(view.read('etc/os-release'), undefined);
  assert.equal(view.read('dir/inner'), undefined);
});

test('lookups follow relative, absolute and parent symlinks', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'usr/lib/os-release', data: 'ID=debian' },
        { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { path: 'lib', type: 'symlink', linkname: '/usr/lib' },
        { path: 'etc/alt', type: 'symlink', linkname: '/etc/os-release' },
      ]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(text(view.read('etc/os-release')), 'ID=debian');
  assert.equal(text(view.read('lib/os-release')), 'ID=debian');
  assert.equal(text(view.read('etc/alt')), 'ID=debian');
  assert.equal(view.lookup('etc/alt')?.path, 'usr/lib/os-release');
});

test('writes through a symlinked parent land at the real path', async () => {
  const view = await readLayers([layer([{ path: 'lib', type: 'symlink', linkname: 'usr/lib' }]), layer([{ path: 'lib/apk/db/installed', data: 'P:musl' }])], {
    rules: [keepAll],
  });
  assert.deepEqual(
    [...view.files()].map((f) => f.path),
    ['usr/lib/apk/db/installed'],
  );
  assert.equal(text(view.read('lib/apk/db/installed')), 'P:musl');
});

test('hard links share the bytes and survive a whiteout of the first name', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'a/status', data: 'S' },
        { path: 'b/status', type: 'hardlink', linkname: 'a/status' },
      ]),
      layer([{ path: 'a/.wh.status' }]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(view.read('a/status'), undefined);
  assert.equal(text(view.read('b/status')), 'S');
});

test('rules bound file size: larger files are skipped, prefix rules keep the head', async () => {
  const rules: KeepRule[] = [
    { id: 'small', match: (p) => p === 'big', maxBytes: 10 },
    { id: 'head', match: (p) => p.endsWith('METADATA'), maxBytes: 4, prefixOnly: true },
  ];
  const view = await readLayers(
    [
      layer([{ path: 'big', data: 'old' }]),
      layer([
        { path: 'big', data: 'x'.repeat(11) },
        { path: 'METADATA', data: 'Name: x\n' },
      ]),
    ],
    { rules },
  );
  assert.equal(view.read('big'), undefined, 'the oversized upper copy hides the lower one');
  assert.equal(view.stats.skippedTooLarge, 1);
  const [meta] = [...view.files()];
  assert.equal(text(meta?.data), 'Name');
  assert.equal(meta?.truncated, true);
});

test('probers stream over matching files and their results follow whiteouts', async () => {
  const lengths: Prober = {
    id: 'len',
    match: (p, e) => p.startsWith('bin/') && (e.mode & 0o111) !== 0,
    open: () => {
      let n = 0;
      return {
        write: (c) => {
          n += c.length;
          return true;
        },
        end: () => n,
      };
    },
  };
  const view = await readLayers(
    [
      layer([
        { path: 'bin/a', data: 'x'.repeat(3000), mode: 0o755 },
        { path: 'bin/b', data: 'yy', mode: 0o755 },
        { path: 'bin/c', data: 'z', mode: 0o644 },
      ]),
      layer([{ path: 'bin/.wh.b' }]),
    ],
    { probers: [lengths] },
  );
  assert.deepEqual([...view.derived<number>('len')], [{ path: 'bin/a', value: 3000 }]);
  assert.equal(view.keptBytes, 0);
});

test('a prober that throws costs only its own result', async () => {
  const broken: Prober = {
    id: 'broken',
    match: () => true,
    open: () => ({
      write: () => {
        throw new Error('bad file');
      },
      end: () => 1,
    }),
  };
  const view = await readLayers([layer([{ path: 'f', data: 'data' }])], { probers: [broken], rules: [keepAll] });
  assert.equal(text(view.read('f')), 'data');
  assert.ok(view.stats.probeErrors >= 1);
});

test('a compressed layer cut after its last entry fails: the stream is read to its end', async () => {
  // Delivered whole, as a blob read delivers a small layer: the decompressor has produced the
  // end-of-archive marker before it meets the end of its input, which is where it finds the cut.
  const files = Array.from({ length: 200 }, (_, i) => ({ path: `f/${i}`, data: String(i).repeat(700) }));
  const gz = gzipSync(tar(files));
  const zst = ALPINE_SINGLE_FRAME;
  for (const [what, cut] of [
    ['gzip without its trailer', gz.subarray(0, gz.length - 8)],
    ['gzip cut inside its trailer', gz.subarray(0, gz.length - 3)],
    ['zstd cut inside its frame checksum', zst.subarray(0, zst.length - 2)],
  ] as const) {
    await assert.rejects(readLayers([streamOf(cut, cut.length)], { rules: [keepAll] }), CorruptLayerError, what);
  }
  // Whole, they read fine; bytes after the marker (GNU tar's record padding) are read past.
  const padded = gzipSync(Buffer.concat([tar([{ path: 'a', data: 'A' }]), Buffer.alloc(8192)]));
  assert.equal(text((await readLayers([streamOf(padded)], { rules: [keepAll] })).read('a')), 'A');
  assert.ok((await readLayers([streamOf(zst)], { rules: [keepAll] })).read('lib/apk/db/installed'));
});

test('a plain tar cut on an entry boundary fails instead of scanning as complete', async () => {
  const whole = tar([
    { path: 'var/lib/dpkg/status', data: 'Package: a\n' },
    { path: 'var/lib/dpkg/status', data: 'Package: b\n' },
  ]);
  await assert.rejects(readLayers([streamOf(whole.subarray(0, 1024))], { rules: [keepAll] }), /truncated/);
});
