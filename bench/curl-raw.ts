/**
 * Raw curl against each server: a monolithic upload (POST, then PUT ?digest= with the whole body
 * from a file) and a download to /dev/null of one large blob, fresh content each round. Records
 * MB/s each way and the server's CPU-seconds per GiB moved (its whole process tree), and prints
 * what the kernel did in each transfer (round-stats.ts) so a slow round says why in the log.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { curlGet, curlPut, headerFile, openUpload, randomFile } from './curl.js';
import { cpuSeconds } from './proc-stats.js';
import { describe, roundStats, snapshot } from './round-stats.js';
import type { Server } from './servers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export type Recorder = (server: Server, name: string, value: number) => void;

export async function curlRaw(servers: Server[], dir: string, bytes: number, rounds: number, record: Recorder): Promise<void> {
  const size = `${bytes / MiB} MiB`;
  const headers = await Promise.all(servers.map((s) => headerFile(s, dir)));
  for (let round = 0; round < rounds; round++) {
    // Both servers get the same fresh file: each is a separate registry, so neither has seen it.
    const file = join(dir, `curl-${round}.bin`);
    const own = process.cpuUsage();
    const digest = await randomFile(file, bytes, `curl-raw ${round} ${Date.now()}`);
    // Writing the file fills new page cache, as each upload then does: its system time is what
    // new pages cost the machine right now (see "The curl upload's slow state" in the README's
    // Performance section; how it was found: docs/performance-history.md).
    const fileSystem = process.cpuUsage(own).system / 1e6;
    console.error(`curl ${size}, round ${round + 1}/${rounds}: the file's ${size} of new page cache took ${fileSystem.toFixed(2)} s of system time`);
    // Each server goes first in every other round: new pages can be cheap for the first upload
    // after a quiet spell and dear for the next, so neither should always be first.
    const order = [...servers.entries()];
    if (round % 2 === 1) order.reverse();
    try {
      for (const [i, s] of order) {
        console.error(`curl ${size}, round ${round + 1}/${rounds}: ${s.name}`);
        const repo = `bench/curl${round}`;
        const cpu0 = cpuSeconds(s.pid);
        const url = await openUpload(s, repo, digest);
        const snap0 = snapshot(s.pid);
        const put = await curlPut(url, headers[i]!, file);
        const snap1 = snapshot(s.pid);
        const cpu1 = cpuSeconds(s.pid);
        if (put.status !== 201) throw new Error(`${s.name}: curl PUT answered ${put.status}`);
        console.error(`  upload ${(bytes / MiB / put.seconds).toFixed(0)} MB/s, ${((cpu1 - cpu0) / (bytes / GiB)).toFixed(2)} CPU-s/GiB`);
        console.error(describe(roundStats(snap0, snap1)));
        const get = await curlGet(`${s.url}/v2/${repo}/blobs/${digest}`, headers[i]!);
        const snap2 = snapshot(s.pid);
        const cpu2 = cpuSeconds(s.pid);
        console.error(
          `  download ${(bytes / MiB / get.seconds).toFixed(0)} MB/s, ${((cpu2 - cpu1) / (bytes / GiB)).toFixed(2)} CPU-s/GiB, curl's own ${(get.clientCpu / (bytes / GiB)).toFixed(2)} CPU-s/GiB`,
        );
        console.error(describe(roundStats(snap1, snap2)));
        if (get.status !== 200 || get.bytes !== bytes) throw new Error(`${s.name}: curl GET answered ${get.status} with ${get.bytes} bytes`);
        record(s, `curl ${size} upload MB/s`, bytes / MiB / put.seconds);
        record(s, `curl ${size} download MB/s`, bytes / MiB / get.seconds);
        record(s, `curl upload CPU-s per GiB`, (cpu1 - cpu0) / (bytes / GiB));
        record(s, `curl download CPU-s per GiB`, (cpu2 - cpu1) / (bytes / GiB));
        record(s, `curl download: curl's own CPU-s per GiB`, get.clientCpu / (bytes / GiB));
        record(s, `curl download: server + curl CPU-s per GiB`, (cpu2 - cpu1 + get.clientCpu) / (bytes / GiB));
        record(s, `curl CPU-s per GiB moved (up + down)`, (cpu2 - cpu0) / ((2 * bytes) / GiB));
      }
    } finally {
      await rm(file, { force: true });
    }
  }
}
