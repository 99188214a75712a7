/** The memory part's literal "flat while 200 uploads stream": RSS against the bytes uploaded over one crowd's window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { streamingTrend, type TrendSample } from './streaming-trend.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** 200 uploads at 1 MB/s each, sampled every 250 ms from 1 s to 15 s; RSS as `rssMB(gib)`. */
function crowd(rssMB: (gib: number) => number): TrendSample[] {
  const out: TrendSample[] = [];
  for (let ms = 1000; ms <= 15000; ms += 250) {
    const uploadedBytes = 200 * 1e6 * (ms / 1000);
    out.push({ atMs: ms - 1000, rssBytes: rssMB(uploadedBytes / GiB) * MiB, uploadedBytes });
  }
  return out;
}
const crowdBytes = 200 * 16 * MiB;

test('a server that holds as many MB whatever it has received reads a slope of 0 and no growth, however high', () => {
  const t = streamingTrend(
    crowd(() => 190),
    crowdBytes,
  )!;
  assert.equal(t.mbPerGiB, 0);
  assert.equal(t.growthMB, 0);
  assert.equal(t.samples, 57);
  assert.equal(t.seconds, 14);
});

test('memory that grows with the bytes received reads as its MB per GiB, and its growth over the window', () => {
  // 4 MB held per GiB received (a leak of 1 byte in 256), above 180 MB.
  const t = streamingTrend(
    crowd((gib) => 180 + 4 * gib),
    crowdBytes,
  )!;
  assert.equal(t.mbPerGiB.toFixed(6), '4.000000');
  assert.equal(t.growthMB.toFixed(2), ((4 * (200 * 14e6)) / GiB).toFixed(2));
});

test('memory that fills once early and then stays reads a slope over the whole window, and none over its second half', () => {
  // +20 MB over the first GiB, then flat.
  const t = streamingTrend(
    crowd((gib) => 170 + 20 * Math.min(1, gib)),
    crowdBytes,
  )!;
  assert.ok(t.mbPerGiB > 3, `whole window: ${t.mbPerGiB}`);
  assert.equal(t.lateMbPerGiB, 0);
  // Memory held per byte received goes on rising in the second half.
  assert.equal(
    streamingTrend(
      crowd((gib) => 180 + 4 * gib),
      crowdBytes,
    )!.lateMbPerGiB.toFixed(6),
    '4.000000',
  );
});

test('the slope is fitted over every sample, so a swing of the first or the last sample moves the growth, not the slope much', () => {
  const samples = crowd(() => 190);
  samples[samples.length - 1] = { ...samples[samples.length - 1]!, rssBytes: 196 * MiB };
  const t = streamingTrend(samples, crowdBytes)!;
  assert.equal(t.growthMB, 6);
  assert.ok(t.mbPerGiB > 0 && t.mbPerGiB < 1, `one late sample of +6 MB moves the slope by less than 1 MB per GiB (${t.mbPerGiB})`);
});

test("the window's coverage is the share of the crowd's bytes sent between its first and last samples, and its rate those bytes over its seconds", () => {
  const t = streamingTrend(
    crowd(() => 190),
    crowdBytes,
  )!;
  // 14 s at 200 MB/s of 200 × 16 MiB.
  assert.equal(t.coveragePct.toFixed(1), ((100 * 200 * 14e6) / crowdBytes).toFixed(1));
  assert.equal(t.uploadMBps.toFixed(2), (200e6 / MiB).toFixed(2), 'and the rate the crowd was taken at');
});

test('no trend from fewer than two samples or from samples with no bytes moved between them', () => {
  assert.equal(streamingTrend([], crowdBytes), undefined);
  assert.equal(streamingTrend([{ atMs: 0, rssBytes: MiB, uploadedBytes: 5 }], crowdBytes), undefined);
  const still = [0, 250, 500].map((atMs) => ({ atMs, rssBytes: (190 + atMs) * MiB, uploadedBytes: GiB }));
  assert.equal(streamingTrend(still, crowdBytes), undefined);
});
