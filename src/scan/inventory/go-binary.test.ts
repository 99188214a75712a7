import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readLayers } from '../layers/read-layers.js';
import { resolveLimits } from '../layers/limits.js';
import { streamOf, tar, type TarSpec } from '../layers/testing/tar-writer.js';
import { GO_PROBER_ID, goBinaryProber } from './go-binary.js';
import type { GoBuildInfo } from './go-modinfo.js';
import { inventoryOf } from './inventory.js';
import { SAMPLE_MODINFO, buildGoElf } from './testing/fixtures.js';

const exe = (path: string, data: Buffer): TarSpec => ({ path, data, mode: 0o755 });
const expected = [
  ['Go', 'github.com/example/app', '1.4.2'],
  ['Go', 'github.com/google/uuid', '1.3.0'],
  ['Go', 'golang.org/x/net', '0.23.0'],
  ['Go', 'stdlib', '1.21.5'],
];

test('Go ≥ 1.18 inline build info: main module, deps with replacements, stdlib', async () => {
  const bin = buildGoElf({ format: 'inline', goVersion: 'go1.21.5', modinfo: SAMPLE_MODINFO, decoy: true });
  const inv = await inventoryOf([streamOf(gzipSync(tar([exe('usr/local/bin/app', bin)])), 1000)]);
  assert.deepEqual(
    inv.packages.map((p) => [p.ecosystem, p.name, p.version]),
    expected,
  );
  assert.ok(inv.packages.every((p) => p.path === 'usr/local/bin/app'));
});

test('Go < 1.18 pointer-format build info is resolved through the program headers', async () => {
  const bin = buildGoElf({ format: 'pointer', goVersion: 'go1.16.15', modinfo: SAMPLE_MODINFO, decoy: true });
  const inv = await inventoryOf([streamOf(tar([exe('bin/old', bin)]), 777)]);
  assert.deepEqual(inv.packages.find((p) => p.name === 'stdlib')?.version, '1.16.15');
  assert.equal(inv.packages.length, 4);
});

test('the header is found when it straddles chunk boundaries deep into a large binary', async () => {
  // 3 MiB of text, then the data segment; the stream is cut 7 bytes into the magic.
  const bin = buildGoElf({ format: 'inline', goVersion: 'go1.22.1 X:boringcrypto', modinfo: SAMPLE_MODINFO, textBytes: 3 * 1024 * 1024 });
  const layer = tar([exe('app', bin)]);
  const cut = 512 + 3 * 1024 * 1024 + 7;
  assert.equal(layer.toString('latin1', cut - 7, cut + 7), '\xff Go buildinf:');
  const chunks = [layer.subarray(0, cut), layer.subarray(cut, cut + 5), layer.subarray(cut + 5)];
  const inv = await inventoryOf([Readable.from(chunks)]);
  assert.equal(inv.packages.find((p) => p.name === 'stdlib')?.version, '1.22.1');
  assert.equal(inv.packages.length, 4);
});

test('the magic split exactly across two chunks is still found', async () => {
  const bin = buildGoElf({ format: 'inline', goVersion: 'go1.21.0', modinfo: SAMPLE_MODINFO });
  const header = bin.indexOf(Buffer.from('\xff Go buildinf:', 'latin1'), 0x1000);
  const limits = resolveLimits({});
  for (const split of [1, 7, 13, 20]) {
    const sink = goBinaryProber(limits).open('x', bin.length);
    sink.write(bin.subarray(0, header + split));
    sink.write(bin.subarray(header + split));
    const info = sink.end() as GoBuildInfo | undefined;
    assert.equal(info?.goVersion, 'go1.21.0', `split at +${split}`);
  }
  // And dribbled in pieces shorter than the magic itself.
  const sink = goBinaryProber(limits).open('x', bin.length);
  for (let off = 0; off < bin.length; off += 3) sink.write(bin.subarray(off, off + 3));
  assert.equal((sink.end() as GoBuildInfo | undefined)?.deps.length, 3);
});

test('non-executables, non-ELF files and oversized binaries are not searched', async () => {
  const bin = buildGoElf({ format: 'inline', goVersion: 'go1.21.5', modinfo: SAMPLE_MODINFO });
  const files = [{ path: 'not-exec', data: bin, mode: 0o644 }, exe('script.sh', Buffer.concat([Buffer.from('#!/bin/sh\n'), bin])), exe('ok', bin)];
  const view = await readLayers([streamOf(tar(files))], { probers: [goBinaryProber(resolveLimits({ maxBinaryBytes: bin.length }))] });
  assert.deepEqual(
    [...view.derived(GO_PROBER_ID)].map((d) => d.path),
    ['ok'],
  );
  const bounded = await readLayers([streamOf(tar(files))], { probers: [goBinaryProber(resolveLimits({ maxBinaryBytes: bin.length - 1 }))] });
  assert.deepEqual([...bounded.derived(GO_PROBER_ID)], []);
});

test('binaries without module info report only the stdlib; garbage ELF reports nothing', async () => {
  const nomod = buildGoElf({ format: 'inline', goVersion: 'go1.20.3', modinfo: '' });
  const junk = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(5000, 0xff)]);
  const inv = await inventoryOf([streamOf(tar([exe('a', nomod), exe('b', junk), { path: 'etc/os-release', data: 'ID=alpine\nVERSION_ID=3.19.0\n' }]))]);
  assert.deepEqual(
    inv.packages.map((p) => [p.name, p.version, p.path]),
    [['stdlib', '1.20.3', 'a']],
  );
});

test('a binary removed by a whiteout in an upper layer is not reported', async () => {
  const bin = buildGoElf({ format: 'inline', goVersion: 'go1.21.5', modinfo: SAMPLE_MODINFO });
  const inv = await inventoryOf([
    streamOf(tar([exe('usr/bin/tool', bin), { path: 'etc/os-release', data: 'ID=alpine\nVERSION_ID=3.19.0\n' }])),
    streamOf(tar([{ path: 'usr/bin/.wh.tool' }])),
  ]);
  assert.deepEqual(inv.packages, []);
});
