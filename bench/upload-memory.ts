/**
 * Server memory while many slow uploads stream at once: resident memory (whole process tree)
 * before they start, its peak while they stream, and after they end. Run at two crowd sizes,
 * "flat" means the peak does not grow with the number of uploads: `peakKBPerUpload` makes that a
 * figure a goal can bound. The goal, ≤ 64 KB: what one upload must hold, its connection's objects
 * (~28 KB in the main heap) and on average half a sealed chunk of unsealed plaintext; the rest (its
 * read piece, its seal slot) can come out of budgets all uploads share (notes/2026-12-05-s20-rss.md).
 */
import { statSync } from 'node:fs';
import { rssBytes, watchPeakRss } from './proc-stats.js';
import { type StreamingTrend, streamingTrend, type TrendSample } from './streaming-trend.js';
import { startUploads, type UploadFiles } from './streaming-uploads.js';
import type { Server } from './servers.js';

export interface RssFigures {
  startMB: number;
  peakMB: number;
  endMB: number;
  /**
   * The median of the RSS samples taken while every upload streams: from the moment all have
   * body bytes on the wire until the first one ends. The peak comes with the crowd's start
   * (connections, first pieces, first chunks all within a second) and moves with the load at
   * that instant; this is the state the "flat while 200 uploads stream" names
   * (notes/2026-12-06-s22-main.md §3).
   */
  streamingMB: number;
  /**
   * Berth's seal slots resident (their budget's block, MB) as the first upload ends: the pages the
   * crowd touched, kept until uploads go quiet. Only from a server with a metrics port that has
   * the figure (berth_upload_seal_slots_resident_bytes).
   */
  slotsMB?: number;
  /** RSS against the bytes uploaded over the same window (streaming-trend.ts). */
  trend?: StreamingTrend;
}

const MiB = 1024 * 1024;
const SAMPLE_MS = 50;
/** Every this many RSS samples, one beside the bytes uploaded: 200 reads of /proc per count. */
const TREND_EVERY = 5;

export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export async function uploadMemory(server: Server, headers: string, files: UploadFiles['files'], rate: string, tag: string): Promise<RssFigures> {
  const start = rssBytes(server.pid);
  const stop = watchPeakRss(server.pid);
  const uploads = await startUploads(server, headers, files, `bench/rss-${tag}`, rate);
  await uploads.allStreaming();
  const began = performance.now();
  const samples = [rssBytes(server.pid)];
  const trend: TrendSample[] = [{ atMs: 0, rssBytes: samples[0]!, uploadedBytes: uploads.uploadedBytes() }];
  while (uploads.inFlight() === files.length) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    const rss = rssBytes(server.pid);
    samples.push(rss);
    // Only while every upload still streams: the window is the one the median reads.
    if (samples.length % TREND_EVERY === 0 && uploads.inFlight() === files.length)
      trend.push({ atMs: performance.now() - began, rssBytes: rss, uploadedBytes: uploads.uploadedBytes() });
  }
  const slots = server.metricsUrl ? await sealSlotsBytes(server.metricsUrl) : undefined;
  const done = await uploads.finished();
  const peak = stop();
  if (done.failed.length > 0) throw new Error(`${server.name}: ${done.failed.length} of ${files.length} uploads failed: ${done.failed[0]}`);
  return {
    startMB: start / MiB,
    peakMB: peak / MiB,
    endMB: rssBytes(server.pid) / MiB,
    streamingMB: median(samples) / MiB,
    ...(slots !== undefined && { slotsMB: slots / MiB }),
    ...trendOf(trend, files),
  };
}

function trendOf(samples: TrendSample[], files: UploadFiles['files']): { trend?: StreamingTrend } {
  const trend = streamingTrend(
    samples,
    files.reduce((sum, f) => sum + statSync(f.path).size, 0),
  );
  return trend ? { trend } : {};
}

/** The budget block's sample of berth_upload_seal_slots_resident_bytes, or undefined (a build without it). */
export async function sealSlotsBytes(metricsUrl: string): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  return sealSlotsSample(text);
}

export function sealSlotsSample(exposition: string): number | undefined {
  const m = /^berth_upload_seal_slots_resident_bytes\{block="budget"\} (\S+)$/m.exec(exposition);
  return m ? Number(m[1]) : undefined;
}

/** As peakKBPerUpload, from the medians while every upload streams instead of the peaks. */
export function streamingKBPerUpload(small: RssFigures, smallCount: number, large: RssFigures, largeCount: number): number {
  return ((large.streamingMB - small.streamingMB) * 1024) / (largeCount - smallCount);
}

/**
 * The peak's growth per upload added between two crowds (KB, 1024 bytes). The peaks alone say
 * "not flat" without saying how far: a few MB up or down between runs is noise at 200 uploads,
 * while per upload it reads against what one upload must hold (its unsealed tail, at most a chunk).
 */
export function peakKBPerUpload(small: RssFigures, smallCount: number, large: RssFigures, largeCount: number): number {
  return ((large.peakMB - small.peakMB) * 1024) / (largeCount - smallCount);
}
