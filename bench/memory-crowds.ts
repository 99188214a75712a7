/**
 * The memory line (issue 14) as pairs of crowds: per pair, each server takes a crowd of the
 * small size, then one of the large size; the servers' order turns by one each
 * pair, so no server always follows another's crowd or goes first. Every figure is recorded per
 * pair and the report folds them to their median (report.ts): one pair per run read 26 KB per
 * added upload in one run and 106 in the next for the same build (session 23), so one pair is a
 * draw, not a figure. Beside it, for Berth servers with a metrics port (BENCH_SEAL_SLOTS=1), what
 * the crowd touched of the seal slots' budget, as its first upload ends.
 *
 * A crowd that fails (an upload refused: the reference answered 500 to 3 of 200 at load ~25)
 * costs that server that pair only, reported as a failure of the run; the rest goes on.
 *
 * Every pair sends the same files: a blob's digest is known to a server only at the upload's
 * closing PUT, so the crowd streams and holds what it did the first time. Fresh files per pair
 * stored another 250 × 16 MiB (4 GiB) on every server each pair and filled the disk late in a
 * full run (session 26: a server answered 507, storage full, to a whole crowd of the third pair).
 */
import { loadavg } from 'node:os';
import type { Results } from './report.js';
import type { Server } from './servers.js';
import { makeUploadFiles } from './streaming-uploads.js';
import { peakKBPerUpload, type RssFigures, streamingKBPerUpload, uploadMemory } from './upload-memory.js';

export interface CrowdParams {
  /** Crowd sizes, small then large. */
  rssUploads: [number, number];
  /** Pairs of crowds per server. */
  rssPairs: number;
  uploadBytes: number;
  uploadRate: string;
}

/** BENCH_MEMORY_PAIRS as given (`value`), or `fallback`: a whole number ≥ 1, or the bench stops naming it. */
export function memoryPairs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_MEMORY_PAIRS must be a whole number of pairs, at least 1 (got ${JSON.stringify(value)})`);
  return n;
}

/** `measure`: one crowd's figures (upload-memory.ts; a stand-in in tests). */
export async function memoryCrowds(
  servers: Server[],
  headers: string[],
  dir: string,
  p: CrowdParams,
  results: Results,
  measure: typeof uploadMemory = uploadMemory,
): Promise<void> {
  const [small, large] = p.rssUploads;
  const files = await makeUploadFiles(dir, small + large, p.uploadBytes, 'rss');
  try {
    for (let pair = 0; pair < p.rssPairs; pair++) {
      for (let k = 0; k < servers.length; k++) {
        const i = (k + pair) % servers.length;
        const s = servers[i]!;
        const load = loadavg()[0]!;
        console.error(`memory under ${small} and ${large} streaming uploads, pair ${pair + 1}/${p.rssPairs}: ${s.name} (load ${load.toFixed(1)})`);
        results.note('load average (1 min) as a memory pair starts', load);
        let a: RssFigures;
        let b: RssFigures;
        try {
          a = await measure(s, headers[i]!, files.files.slice(large), p.uploadRate, `${small}-${pair}`);
          b = await measure(s, headers[i]!, files.files.slice(0, large), p.uploadRate, `${large}-${pair}`);
        } catch (e) {
          console.error(`memory pair ${pair + 1}: ${s.name} FAILED:`, e);
          results.failures.push(`memory pair ${pair + 1}, ${s.name}: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        results.record(s, `RSS MB, ${small} uploads streaming: peak`, a.peakMB);
        results.record(s, `RSS MB, ${large} uploads streaming: start`, b.startMB);
        results.record(s, `RSS MB, ${large} uploads streaming: peak`, b.peakMB);
        results.record(s, `RSS MB, ${large} uploads streaming: end`, b.endMB);
        results.record(s, `RSS KB per added upload, peak ${small} → ${large}`, peakKBPerUpload(a, small, b, large));
        results.record(s, `RSS KB per added upload, median while all stream ${small} → ${large}`, streamingKBPerUpload(a, small, b, large));
        if (b.trend) {
          const t = b.trend;
          console.error(
            `  ${s.name}, ${large} streaming: ${t.samples} samples over ${t.seconds.toFixed(1)} s, ${t.coveragePct.toFixed(0)} % of the bytes at ${t.uploadMBps.toFixed(0)} MB/s; RSS ${t.growthMB.toFixed(1)} MB, ${t.mbPerGiB.toFixed(2)} MB per GiB (second half ${t.lateMbPerGiB.toFixed(2)})`,
          );
          results.record(s, `RSS MB growth while all ${large} stream, first → last sample`, t.growthMB);
          results.record(s, `RSS MB per GiB uploaded while all ${large} stream (least squares)`, t.mbPerGiB);
          if (!Number.isNaN(t.lateMbPerGiB))
            results.record(s, `RSS MB per GiB uploaded while all ${large} stream, second half (least squares)`, t.lateMbPerGiB);
          results.record(s, `streaming window: % of the ${large} crowd's bytes sent while all stream`, t.coveragePct);
          results.record(s, `streaming window: MB/s the ${large} crowd sent while all stream`, t.uploadMBps);
        }
        if (a.slotsMB !== undefined && b.slotsMB !== undefined) {
          results.record(s, `seal slots resident MB, ${large} uploads (as the first ends)`, b.slotsMB);
          results.record(s, `seal slots resident KB per added upload ${small} → ${large}`, ((b.slotsMB - a.slotsMB) * 1024) / (large - small));
        }
      }
    }
  } finally {
    await files.remove();
  }
}
