/**
 * `BENCH_ENTRY=mixed-main npm run bench`: only the mixed-load and memory-under-many-uploads lines
 * of issue #14, for working on them without the rest of the data path. BENCH_BASELINE_CLI names
 * another build's `dist/src/cli/main.js` (its tree must resolve node_modules) to run as a third
 * server, "berth-base", in the same run, so a change is compared with the code before it on the
 * same (possibly busy) machine. MIXED_ROUNDS (2), MIXED_UPLOADS (100), RSS_UPLOADS ("50,200")
 * and MIXED_PARTS ("mixed,memory"; "raw" adds the raw curl 512 MiB line) shrink or pick the parts;
 * BENCH_MIXED_SETTLE as in `npm run bench`.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { headerFile } from './curl.js';
import { curlRaw } from './curl-raw.js';
import { mixedLoad } from './mixed-load.js';
import { printTable, Results } from './report.js';
import { describe } from './round-stats.js';
import { mixedSettle, settleBeforeWindow } from './settle.js';
import { startBerthServer, startReferenceServer, type Server } from './servers.js';
import { makeUploadFiles } from './streaming-uploads.js';
import { peakKBPerUpload, streamingKBPerUpload, uploadMemory } from './upload-memory.js';
import { seedManifest } from './http-client.js';

const MiB = 1024 * 1024;
const env = process.env;
const rounds = Number(env.MIXED_ROUNDS ?? 2);
const uploads = Number(env.MIXED_UPLOADS ?? 100);
const rssCrowds = (env.RSS_UPLOADS ?? '50,200').split(',').map(Number) as [number, number];
const parts = new Set((env.MIXED_PARTS ?? 'mixed,memory').split(','));
const uploadBytes = 16 * MiB;
/** BENCH_MIXED_SETTLE (each, part, off): as in the bench's mixed part (bench/settle.ts). */
const settleWhen = mixedSettle(env.BENCH_MIXED_SETTLE);

async function main(): Promise<void> {
  const workDir = resolve('bench/.work');
  await mkdir(workDir, { recursive: true });
  const results = new Results(join(workDir, 'results-mixed.json'));
  const servers: Server[] = [await startBerthServer(workDir)];
  // BENCH_BASELINE_FIRST=1 runs the baseline before this build in each round (order effects).
  if (env.BENCH_BASELINE_CLI) {
    const base = await startBerthServer(workDir, { cli: env.BENCH_BASELINE_CLI, name: 'berth-base' });
    if (env.BENCH_BASELINE_FIRST === '1') servers.unshift(base);
    else servers.push(base);
  }
  servers.push(await startReferenceServer(workDir));
  const dir = await mkdtemp(join(workDir, 'mixed-'));
  try {
    const paths = await Promise.all(servers.map(async (s) => (await seedManifest(s)).manifestPath));
    const headers = await Promise.all(servers.map((s) => headerFile(s, dir)));
    if (parts.has('raw')) await results.part('raw curl', () => curlRaw(servers, dir, 512 * MiB, 3, results.record));
    if (parts.has('mixed')) {
      await results.part('mixed load', async () => {
        for (let round = 0; round < rounds; round++) {
          const files = await makeUploadFiles(dir, uploads, uploadBytes, `mixed ${round}`);
          try {
            for (const [i, s] of servers.entries()) {
              const settled = await settleBeforeWindow(settleWhen, round === 0 && i === 0, [dir, ...servers.map((x) => x.dataDir)]);
              if (settled) console.error(settled);
              const load = await mixedLoad(s, headers[i]!, files.files, { manifestPath: paths[i]!, connections: 16, seconds: 10, rate: '1M' }, round);
              const la = loadavg()[0]!.toFixed(1);
              console.error(
                `round ${round + 1} ${s.name}: ${load.perSecond.toFixed(1)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, max ${load.maxMs} ms, errors ${load.errors}, streaming at end ${load.streamingAtEnd}, load ${la}`,
              );
              console.error(describe(load.window));
              results.record(s, 'mixed: req/s', load.perSecond);
              results.record(s, 'mixed: p99 ms', load.p99Ms);
              results.record(s, 'mixed: errors', load.errors);
            }
          } finally {
            await files.remove();
          }
        }
      });
    }
    if (parts.has('memory')) {
      await results.part('memory under many uploads', async () => {
        const [small, large] = rssCrowds;
        const files = await makeUploadFiles(dir, small + large, uploadBytes, 'rss');
        try {
          for (const [i, s] of servers.entries()) {
            const a = await uploadMemory(s, headers[i]!, files.files.slice(large), '1M', `${small}`);
            const b = await uploadMemory(s, headers[i]!, files.files.slice(0, large), '1M', `${large}`);
            console.error(
              `${s.name}: ${small} uploads start/peak/end ${a.startMB.toFixed(0)}/${a.peakMB.toFixed(0)}/${a.endMB.toFixed(0)} MB; ${large} uploads ${b.startMB.toFixed(0)}/${b.peakMB.toFixed(0)}/${b.endMB.toFixed(0)} MB, load ${loadavg()[0]!.toFixed(1)}`,
            );
            results.record(s, `RSS MB, ${small} uploads: peak`, a.peakMB);
            results.record(s, `RSS MB, ${large} uploads: start`, b.startMB);
            results.record(s, `RSS MB, ${large} uploads: peak`, b.peakMB);
            results.record(s, `RSS MB, ${large} uploads: end`, b.endMB);
            results.record(s, `RSS KB per added upload, peak ${small} → ${large}`, peakKBPerUpload(a, small, b, large));
            results.record(s, `RSS KB per added upload, median while all stream ${small} → ${large}`, streamingKBPerUpload(a, small, b, large));
          }
        } finally {
          await files.remove();
        }
      });
    }
    printTable(results);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
