import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CorruptLayerError, ScanAbortedError, ScanError, ScanLimitError } from './errors.js';
import { readLayers, type KeepRule } from './read-layers.js';
import { header, streamOf, tar, type TarSpec } from './testing/tar-writer.js';

const keepAll: KeepRule = { id: 'all', match: () => true, maxBytes: 1 << 20 };
const layer = (specs: TarSpec[]) => streamOf(gzipSync(tar(specs)), 512);

function isLimit(limit: string) {
  return (e: unknown) => {
    assert.ok(e instanceof ScanLimitError, String(e));
    assert.equal(e.limit, limit);
    assert.equal(e.status, 'FAILED');
    return true;
  };
}

test('a gzip decompression bomb fails the scan with a limit error', async () => {
  // 256 MiB of zeros in about 250 KiB: past the grace, the ratio bound trips long before the end.
  const body = Buffer.alloc(256 * 1024 * 1024);
  const bomb = gzipSync(Buffer.concat([header({ name: 'zeros', size: body.length, flag: '0' }), body, Buffer.alloc(1024)]), { level: 9 });
  await assert.rejects(readLayers([streamOf(bomb, 64 * 1024)], { rules: [keepAll] }), isLimit('maxCompressionRatio'));
});

test('the image-wide decompressed budget spans layers', async () => {
  const l = () => layer([{ path: 'f', data: 'x'.repeat(5000) }]);
  await assert.rejects(readLayers([l(), l(), l()], { limits: { maxDecompressedBytes: 14_000 } }), isLimit('maxDecompressedBytes'));
});

test('traversal and absolute paths stay inside the view', async () => {
  const view = await readLayers(
    [
      layer([
        { path: '../../etc/passwd', data: 'root:x:0:0' },
        { path: '/etc/shadow', data: 'abs' },
        { path: 'a/b/../../../../../etc/group', data: 'g' },
        { path: 'x', type: 'symlink', linkname: '../../../../..' },
      ]),
    ],
    { rules: [keepAll] },
  );
  assert.deepEqual(
    [...view.files()].map((f) => f.path),
    ['etc/group', 'etc/passwd', 'etc/shadow'],
  );
  assert.equal(view.read('x/etc/passwd')?.toString(), 'root:x:0:0', 'a link above the root resolves to the root');
  assert.equal(view.lookup('x/../../..')?.path, '');
});

test('symlink loops are bounded in lookups and in writes', async () => {
  const view = await readLayers(
    [
      layer([
        { path: 'a', type: 'symlink', linkname: 'b' },
        { path: 'b', type: 'symlink', linkname: 'a' },
        { path: 'self', type: 'symlink', linkname: 'self/self' },
        { path: 'a/file', data: 'lost' },
        { path: 'ok', data: 'fine' },
      ]),
    ],
    { rules: [keepAll], limits: { maxSymlinkHops: 10 } },
  );
  assert.equal(view.read('a'), undefined);
  assert.equal(view.read('a/x'), undefined);
  assert.equal(view.read('self/z'), undefined);
  assert.equal(view.read('ok')?.toString(), 'fine');
  assert.ok(view.stats.symlinkLoops >= 3);
});

test('a truncated layer is a typed error, not a crash or a hang', async () => {
  const full = gzipSync(tar([{ path: 'var/lib/dpkg/status', data: 'Package: x\n'.repeat(500) }]));
  await assert.rejects(readLayers([streamOf(full.subarray(0, full.length / 2))], { rules: [keepAll] }), CorruptLayerError);
  const plain = tar([{ path: 'f', data: 'y'.repeat(3000) }]);
  await assert.rejects(readLayers([streamOf(plain.subarray(0, 2000))], { rules: [keepAll] }), CorruptLayerError);
});

test('random bytes are a CorruptLayerError', async () => {
  const junk = Buffer.alloc(4096);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) % 251;
  await assert.rejects(readLayers([streamOf(junk)]), CorruptLayerError);
});

test('a source stream that errors is a ScanError, and the other layers are released', async () => {
  const failing = new Readable({
    read() {
      this.destroy(new Error('blob store read failed'));
    },
  });
  const later = layer([{ path: 'x', data: 'y' }]);
  await assert.rejects(readLayers([layer([{ path: 'a', data: 'b' }]), failing, later]), (e: unknown) => {
    assert.ok(e instanceof ScanError);
    assert.equal(e.status, 'FAILED');
    assert.equal(e.reason, 'read');
    return true;
  });
  assert.equal(later.destroyed, true);
});

test('an abort signal stops a stalled layer', async () => {
  const stalled = new Readable({
    read() {
      /* never delivers */
    },
  });
  const ac = new AbortController();
  const p = readLayers([stalled], { signal: ac.signal });
  setImmediate(() => ac.abort());
  await assert.rejects(p, ScanAbortedError);
  assert.equal(stalled.destroyed, true);
});

test('the time limit stops a source that never yields a layer', async () => {
  async function* never(): AsyncGenerator<Readable> {
    await new Promise(() => undefined);
  }
  await assert.rejects(readLayers(never(), { limits: { timeoutMs: 20 } }), (e: unknown) => {
    assert.ok(e instanceof ScanAbortedError);
    assert.match(e.message, /time limit/);
    return true;
  });
});

test('an already aborted signal fails fast', async () => {
  await assert.rejects(readLayers([layer([])], { signal: AbortSignal.abort() }), ScanAbortedError);
});

test('the kept-bytes budget and the node budget are enforced', async () => {
  const files = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, data: 'z'.repeat(100) }));
  await assert.rejects(readLayers([layer(files)], { rules: [keepAll], limits: { maxKeptBytes: 1000 } }), isLimit('maxKeptBytes'));
  const links = Array.from({ length: 50 }, (_, i): TarSpec => ({ path: `l${i}`, type: 'symlink', linkname: 't' }));
  await assert.rejects(readLayers([layer(links)], { limits: { maxNodes: 30 } }), isLimit('maxNodes'));
});

test('deeply nested and over-long paths do not blow up', async () => {
  const deep = `${'d/'.repeat(2000)}f`;
  const tooLong = `${'e/'.repeat(3000)}f`;
  const view = await readLayers(
    [
      layer([
        { path: deep, data: 'deep' },
        { path: tooLong, data: 'no' },
      ]),
    ],
    { rules: [keepAll] },
  );
  assert.equal(view.read(deep)?.toString(), 'deep');
  assert.equal([...view.files()].length, 1);
  const removed = await readLayers([layer([{ path: deep, data: 'deep' }]), layer([{ path: '.wh.d' }])], { rules: [keepAll] });
  assert.equal([...removed.files()].length, 0);
  assert.equal(removed.keptBytes, 0);
});

test('many whiteouts over one large directory in a layer stay correct', async () => {
  const lower = Array.from({ length: 2000 }, (_, i): TarSpec => ({ path: `usr/share/doc/p${i}/copyright`, data: 'c' }));
  const upper: TarSpec[] = [
    ...Array.from({ length: 500 }, (_, i): TarSpec => ({ path: `usr/share/doc/new${i}/copyright`, data: 'n' })),
    ...Array.from({ length: 1000 }, (_, i): TarSpec => ({ path: `usr/share/doc/.wh.p${i * 2}` })),
    { path: 'usr/share/.wh..wh..opq' },
    { path: 'usr/share/.wh..wh..opq' },
  ];
  const view = await readLayers([layer(lower), layer(upper)], { rules: [keepAll] });
  assert.equal([...view.files()].length, 500);
  assert.equal(view.keptBytes, 500);
});
