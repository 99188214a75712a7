/** The memory crowds' order and their failures, with a stand-in for the crowds themselves. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryCrowds, memoryPairs } from './memory-crowds.js';
import { Results } from './report.js';
import type { Server } from './servers.js';
import type { RssFigures } from './upload-memory.js';

const named = (name: string) => ({ name }) as Server;

test("each pair turns the servers' order; a failed crowd costs its server that pair only", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'memory-crowds-'));
  try {
    const servers = ['berth', 'berth-base', 'reference'].map(named);
    const results = new Results();
    const calls: string[] = [];
    const measure = async (s: Server, _h: string, files: unknown[], _rate: string, tag: string): Promise<RssFigures> => {
      calls.push(`${s.name} ${tag} ${files.length}`);
      if (s.name === 'reference' && tag === '4-1') throw new Error('reference: 1 of 4 uploads failed: status 500');
      const big = tag.startsWith('8');
      const trend = { growthMB: 1.5, mbPerGiB: 0.5, lateMbPerGiB: 0.25, coveragePct: 90, uploadMBps: 150, seconds: 14, samples: 57 };
      return { startMB: 100, peakMB: big ? 110 : 100, endMB: 105, streamingMB: big ? 108 : 99, ...(big && { trend }) };
    };
    await memoryCrowds(servers, ['h0', 'h1', 'h2'], dir, { rssUploads: [4, 8], rssPairs: 3, uploadBytes: 1024, uploadRate: '1M' }, results, measure);
    // Small crowd then large, per server; the first server of each pair is the next one.
    assert.deepEqual(
      calls.filter((c) => / 4-/.test(c)).map((c) => c.split(' ')[0]),
      ['berth', 'berth-base', 'reference', 'berth-base', 'reference', 'berth', 'reference', 'berth', 'berth-base'],
    );
    assert.ok(
      calls.every((c) => c.endsWith(c.includes(' 4-') ? ' 4' : ' 8')),
      'crowds of the sizes asked for',
    );
    assert.equal(results.byServer.berth!['RSS KB per added upload, peak 4 → 8']!.length, 3);
    assert.equal(results.byServer.reference!['RSS KB per added upload, peak 4 → 8']!.length, 2, 'the failed pair left out');
    assert.deepEqual(results.byServer.berth!['RSS KB per added upload, peak 4 → 8'], [2560, 2560, 2560]);
    // The literal "flat" lines: the large crowd's window, per pair.
    assert.deepEqual(results.byServer.berth!['RSS MB per GiB uploaded while all 8 stream (least squares)'], [0.5, 0.5, 0.5]);
    assert.deepEqual(results.byServer.berth!['RSS MB per GiB uploaded while all 8 stream, second half (least squares)'], [0.25, 0.25, 0.25]);
    assert.deepEqual(results.byServer.berth!['RSS MB growth while all 8 stream, first → last sample'], [1.5, 1.5, 1.5]);
    assert.deepEqual(results.byServer.reference!["streaming window: % of the 8 crowd's bytes sent while all stream"], [90, 90]);
    assert.equal(results.failures.length, 1);
    assert.match(results.failures[0]!, /^memory pair 2, reference: .*status 500/);
    assert.deepEqual(await readdir(dir), [], "each pair's files removed");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('BENCH_MEMORY_PAIRS: a whole number of at least 1, the default when unset; anything else stops the bench', () => {
  assert.equal(memoryPairs(undefined, 3), 3);
  assert.equal(memoryPairs('5', 3), 5);
  for (const bad of ['', '0', '-1', '2.5', 'three']) assert.throws(() => memoryPairs(bad, 3), /BENCH_MEMORY_PAIRS must be a whole number/, bad);
});
