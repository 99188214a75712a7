/**
 * Issue 14's "flat while 200 uploads stream", read as it is worded: how the server's RSS moves
 * while every upload of a crowd streams, against the bytes moved. The per-upload line
 * (upload-memory.ts) compares two crowd sizes; this one watches one crowd over time. A registry
 * that streams holds what its connections and buffers need and no more as bytes go by, so RSS
 * should not grow with the bytes received: a slope in MB per GiB near 0, and a growth from the
 * first sample to the last within the samples' own spread (V8 and malloc move by a few MB).
 *
 * "Uploaded" is what the clients have read from their files (curl reads its body only as fast as
 * its rate limit sends it): the server has received all of it but what its sockets' queues hold.
 */

export interface TrendSample {
  /** Milliseconds since the window began. */
  atMs: number;
  rssBytes: number;
  /** Bytes all the crowd's clients have sent so far. */
  uploadedBytes: number;
}

export interface StreamingTrend {
  /** RSS at the window's last sample less its first (MB). */
  growthMB: number;
  /** Least-squares slope of RSS (MB) over bytes uploaded (GiB) across the window's samples. */
  mbPerGiB: number;
  /**
   * The same over the window's second half (by bytes): memory that fills once (budgets all uploads
   * share, V8's heap growing to its size) rises early and then stays; memory held per byte received
   * goes on rising. NaN with fewer than two samples there.
   */
  lateMbPerGiB: number;
  /** Share of the crowd's bytes sent within the window (%): how much of the streaming it saw. */
  coveragePct: number;
  /** The crowd's bytes per second over the window (MB/s, MiB): what the server took while it held what it held. */
  uploadMBps: number;
  seconds: number;
  samples: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The trend over `samples` (in time order) of a crowd sending `crowdBytes` in all; undefined when
 * fewer than two samples or no bytes moved between them (no slope to read).
 */
export function streamingTrend(samples: readonly TrendSample[], crowdBytes: number): StreamingTrend | undefined {
  if (samples.length < 2) return undefined;
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const mbPerGiB = slope(samples);
  if (mbPerGiB === undefined) return undefined;
  const middle = (first.uploadedBytes + last.uploadedBytes) / 2;
  return {
    growthMB: (last.rssBytes - first.rssBytes) / MiB,
    mbPerGiB,
    lateMbPerGiB: slope(samples.filter((s) => s.uploadedBytes >= middle)) ?? Number.NaN,
    coveragePct: (100 * (last.uploadedBytes - first.uploadedBytes)) / crowdBytes,
    uploadMBps: (last.uploadedBytes - first.uploadedBytes) / MiB / ((last.atMs - first.atMs) / 1000),
    seconds: (last.atMs - first.atMs) / 1000,
    samples: samples.length,
  };
}

/** Least-squares slope of RSS (MB) over bytes uploaded (GiB); undefined without two samples apart in bytes. */
function slope(samples: readonly TrendSample[]): number | undefined {
  const xs = samples.map((s) => s.uploadedBytes / GiB);
  const ys = samples.map((s) => s.rssBytes / MiB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx === 0 ? undefined : sxy / sxx;
}
