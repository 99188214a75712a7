import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { decompressLayer, sniffCompression, type LayerCompression } from './decompress.js';
import { CorruptLayerError, ScanLimitError } from './errors.js';
import { resolveLimits, type ScanLimits } from './limits.js';
import { ALPINE_APK_INSTALLED, ALPINE_OS_RELEASE } from './testing/make-zstd-fixtures.js';
import { streamOf, tar } from './testing/tar-writer.js';
import { ALPINE_SINGLE_FRAME, ALPINE_TWO_FRAMES, ZEROS_64MIB_BOMB } from './testing/zstd-fixtures.js';

async function inflate(buf: Buffer, limits: Partial<ScanLimits> = {}, chunk = 700): Promise<{ out: Buffer; kind?: LayerCompression }> {
  let kind: LayerCompression | undefined;
  const parts: Buffer[] = [];
  const gen = decompressLayer(streamOf(buf, chunk), {
    limits: resolveLimits(limits),
    totals: { decompressed: 0 },
    onCompression: (c) => (kind = c),
  });
  for await (const c of gen) parts.push(c);
  return { out: Buffer.concat(parts), kind };
}

const sample = tar([{ path: 'etc/os-release', data: 'ID=debian\n' }]);

test('detects compression by magic bytes', () => {
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(sniffCompression(sample), 'none');
  assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
  assert.throws(() => sniffCompression(Buffer.from('BZh91AY')), CorruptLayerError);
  assert.throws(() => sniffCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), CorruptLayerError);
});

test('passes an uncompressed tar through unchanged', async () => {
  const { out, kind } = await inflate(sample);
  assert.equal(kind, 'none');
  assert.deepEqual(out, sample);
});

test('gunzips a gzip layer, including multi-member streams', async () => {
  const { out, kind } = await inflate(Buffer.concat([gzipSync(sample.subarray(0, 512)), gzipSync(sample.subarray(512))]));
  assert.equal(kind, 'gzip');
  assert.deepEqual(out, sample);
});

test('decodes a zstd layer made by the reference encoder', async () => {
  const { out, kind } = await inflate(ALPINE_SINGLE_FRAME);
  assert.equal(kind, 'zstd');
  assert.ok(out.includes(Buffer.from(ALPINE_OS_RELEASE)));
  assert.ok(out.includes(Buffer.from(ALPINE_APK_INSTALLED)));
});

test('decodes concatenated zstd frames, with and without checksums', async () => {
  const single = (await inflate(ALPINE_SINGLE_FRAME)).out;
  const multi = (await inflate(ALPINE_TWO_FRAMES)).out;
  assert.deepEqual(multi, single);
});

test('decodes every frame of a many-frame zstd layer, however the bytes arrive', async () => {
  // zstd:chunked writers put each file in its own frame; Node's zstd stream drops what follows a
  // frame's end in the same written chunk, so frames arriving together must not be lost.
  const files = Array.from({ length: 40 }, (_, i) => ({ path: `usr/share/doc/f${i}`, data: `file ${i} `.repeat(i * 13 + 1) }));
  const layer = tar(files);
  const frames: Buffer[] = [];
  for (let off = 0, i = 0; off < layer.length; off += 512 * ((i % 5) + 1), i++) {
    frames.push(zstdCompressSync(layer.subarray(off, off + 512 * ((i % 5) + 1))));
    // A skippable frame (metadata some writers add) between data frames.
    if (i === 3) frames.push(Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]));
  }
  const zst = Buffer.concat(frames);
  for (const chunk of [1, 7, 700, 64 * 1024, zst.length]) {
    const { out, kind } = await inflate(zst, {}, chunk);
    assert.equal(kind, 'zstd');
    assert.equal(out.length, layer.length, `chunks of ${chunk} bytes`);
    assert.ok(out.equals(layer), `chunks of ${chunk} bytes`);
  }
});

test('a gzip bomb stops at the compression-ratio limit while inflating', async () => {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
  assert.ok(bomb.length < 100 * 1024);
  await assert.rejects(inflate(bomb, { ratioGraceBytes: 1024 * 1024, maxCompressionRatio: 100 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.limit, 'maxCompressionRatio');
    assert.equal(e.status, 'FAILED');
    return true;
  });
});

test('a zstd bomb stops at the compression-ratio limit', async () => {
  await assert.rejects(inflate(ZEROS_64MIB_BOMB, { ratioGraceBytes: 1024 * 1024 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.limit, 'maxCompressionRatio');
    return true;
  });
});

test('total decompressed bytes are bounded, even for uncompressed layers', async () => {
  await assert.rejects(inflate(Buffer.concat([sample, Buffer.alloc(10_000)]), { maxDecompressedBytes: 4096 }), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.limit, 'maxDecompressedBytes');
    return true;
  });
});

test('a zstd frame declaring a huge window is refused before decoding', async () => {
  // Frame header: magic, FHD 0x00 (no single segment, no checksum), window descriptor
  // exponent 21 -> 2^31 bytes, then a raw last block of 1 byte.
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x09, 0x00, 0x00, 0x41]);
  await assert.rejects(inflate(frame), (e: unknown) => {
    assert.ok(e instanceof ScanLimitError);
    assert.equal(e.limit, 'maxZstdWindowBytes');
    return true;
  });
});

test('truncated gzip and zstd streams are CorruptLayerErrors', async () => {
  const gz = gzipSync(sample);
  await assert.rejects(inflate(gz.subarray(0, gz.length - 10)), CorruptLayerError);
  await assert.rejects(inflate(ALPINE_SINGLE_FRAME.subarray(0, ALPINE_SINGLE_FRAME.length - 7)), CorruptLayerError);
  await assert.rejects(inflate(ALPINE_SINGLE_FRAME.subarray(0, 40)), CorruptLayerError);
});

test('garbage after the gzip magic is a CorruptLayerError', async () => {
  await assert.rejects(inflate(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(600, 0x55)])), CorruptLayerError);
  await assert.rejects(inflate(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(600, 0x55)])), CorruptLayerError);
});
