/**
 * Mixed load: manifest GETs (autocannon, 16 connections) measured only while a crowd of slow
 * uploads (curl at 1 MB/s each) is streaming. The uploads outlast the window (16 MiB at 1 MB/s is
 * 16 s against 10 s); autocannon's process is started beforehand and released the moment all
 * are streaming, and how many were still streaming when the window closed is reported beside
 * the figure (on a loaded machine the first curls may start seconds before the last). What the
 * kernel did in the window (round-stats.ts) comes back beside it, so a slow round says why.
 */
import { startManifestLoad, type LoadResult } from './load-child.js';
import { roundStats, snapshot, type RoundStats } from './round-stats.js';
import { startUploads, type UploadFiles } from './streaming-uploads.js';
import type { Server } from './servers.js';

export interface MixedSpec {
  manifestPath: string;
  connections: number;
  seconds: number;
  rate: string;
}

export async function mixedLoad(
  server: Server,
  headers: string,
  files: UploadFiles['files'],
  spec: MixedSpec,
  round: number,
): Promise<LoadResult & { streamingAtEnd: number; uploadFailures: number; window: RoundStats; rampSeconds: number }> {
  const t0 = performance.now();
  const load = startManifestLoad({
    url: `${server.url}${spec.manifestPath}`,
    connections: spec.connections,
    seconds: spec.seconds,
    headers: { ...server.headers, Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const uploads = await startUploads(server, headers, files, `bench/mixed${round}`, spec.rate);
  await uploads.allStreaming();
  const before = snapshot(server.pid);
  // From the call to the window's start: what a settle before the call leaves for the ramp to dirty.
  const rampSeconds = (before.at - t0) / 1000;
  const result = await load.go();
  const window = roundStats(before, snapshot(server.pid));
  const streamingAtEnd = uploads.inFlight();
  const done = await uploads.finished();
  if (done.failed.length > 0) console.error(`${server.name}: ${done.failed.length} uploads failed under mixed load: ${done.failed[0]}`);
  if (streamingAtEnd < files.length) console.error(`${server.name}: ${streamingAtEnd} of ${files.length} uploads were still streaming when the window closed`);
  if (result.errors > 0) console.error(`${server.name}: ${result.errors} manifest GETs failed or timed out (10 s) under mixed load`);
  return { ...result, streamingAtEnd, uploadFailures: done.failed.length, window, rampSeconds };
}
