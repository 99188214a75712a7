import assert from 'node:assert/strict';
import { pipeline } from 'node:stream';
import { test } from 'node:test';
import { createGzip } from 'node:zlib';
import { readLayers, type KeepRule } from './read-layers.js';
import { hugeZeroFileTar } from './testing/tar-writer.js';

const MiB = 1024 * 1024;
const rules: KeepRule[] = [
  { id: 'dpkg', match: (p) => p === 'var/lib/dpkg/status', maxBytes: 8 * MiB },
  { id: 'bins', match: (p) => p.startsWith('opt/'), maxBytes: 8 * MiB },
];
const status = 'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n\n';

test('a 200 MiB file streams through without being kept', async () => {
  const view = await readLayers([hugeZeroFileTar('data/blob.bin', 200 * MiB, [{ path: 'var/lib/dpkg/status', data: status }])], { rules });
  assert.ok(view.stats.decompressedBytes > 200 * MiB);
  assert.equal(view.keptBytes, status.length);
  assert.equal(view.stats.peakKeptBytes, status.length);
  assert.equal(view.read('var/lib/dpkg/status')?.toString(), status);
});

test('a 200 MiB file matching a rule is skipped by size, through gzip too', async () => {
  const gz = pipeline(hugeZeroFileTar('opt/huge', 200 * MiB, [{ path: 'opt/small', data: 'tiny' }]), createGzip({ level: 1 }), () => undefined);
  const view = await readLayers([gz], { rules, limits: { maxCompressionRatio: 2000 } });
  assert.equal(view.stats.skippedTooLarge, 1);
  assert.equal(view.read('opt/huge'), undefined);
  assert.equal(view.read('opt/small')?.toString(), 'tiny');
  assert.equal(view.stats.peakKeptBytes, 4);
});
