/**
 * Mixed load: manifest GETs (autocannon, 16 connections) measured only while a crowd of slow
 * uploads (curl at 1 MB/s each) is streaming, the whole window through. The uploads outlast the
 * window (16 MiB at 1 MB/s is 16 s against 10 s); the figure is refused if any ended inside it.
 */
import { manifestLoad, type LoadResult } from './load-child.js';
import { startUploads, type UploadFiles } from './streaming-uploads.js';
import type { Server } from './servers.js';

export interface MixedSpec {
  manifestPath: string;
  connections: number;
  seconds: number;
  rate: string;
}

export async function mixedLoad(server: Server, headers: string, files: UploadFiles['files'], spec: MixedSpec, round: number): Promise<LoadResult> {
  const uploads = await startUploads(server, headers, files, `bench/mixed${round}`, spec.rate);
  await uploads.allStreaming();
  const load = await manifestLoad({
    url: `${server.url}${spec.manifestPath}`,
    connections: spec.connections,
    seconds: spec.seconds,
    headers: { ...server.headers, Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const still = uploads.inFlight();
  const done = await uploads.finished();
  if (done.failed.length > 0) throw new Error(`${server.name}: ${done.failed.length} uploads failed under mixed load: ${done.failed[0]}`);
  if (still < files.length) throw new Error(`${server.name}: only ${still} of ${files.length} uploads were still streaming when the load ended`);
  if (load.errors > 0) console.error(`${server.name}: ${load.errors} manifest GETs failed under mixed load`);
  return load;
}
