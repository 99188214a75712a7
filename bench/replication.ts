/**
 * Replication between two deployments on this machine (us-east-1 → eu-west-1, one server key):
 * lag (push acknowledged → DescribeImageReplicationStatus COMPLETE) and throughput, for
 * BENCH_IMAGES images (default 20) of 3 layers × BENCH_LAYER_MIB (default 16 MiB) of random
 * bytes, against copying the same images between the same two deployments with skopeo (the
 * reference tool for moving images), BENCH_PARALLEL copies at once (default 4, Berth's
 * replicationConcurrency). `npm run bench:replication`.
 *
 * The images are first pushed to us-east-1 under src/ (no rule covers it). skopeo then copies
 * src/i → eu-west-1 copy/i; replication is measured by pushing src/i → prod/i within us-east-1
 * (a rule replicates prod to eu-west-1; the push itself only mounts, so the clock measures the
 * replication), each to a repository the destination has not seen. Both move the same bytes
 * over the same loopback into the same destination store. Read the ratios: on a shared machine
 * the absolute figures are noise.
 */
import { DescribeImageReplicationStatusCommand, PutReplicationConfigurationCommand } from '@aws-sdk/client-ecr';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBerth, tempDir } from '../test/e2e/helpers/berth-process.js';
import { ecrClient } from '../test/e2e/helpers/ecr-client.js';
import { buildImageLayout } from '../test/e2e/helpers/oci-layout.js';
import { createSkopeo } from '../test/e2e/helpers/skopeo.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 20);
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 16);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 4);
const MiB = 1 << 20;

/** Runs `fn` over 0..n-1, `parallel` at a time; `slot` tells the parallel lanes apart. */
async function pool(n: number, parallel: number, fn: (i: number, slot: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async (_, slot) => {
      while (next < n) await fn(next++, slot);
    }),
  );
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const work = await tempDir('berth-bench-repl-');
const serverKey = randomBytes(32).toString('base64');
const eu = await startBerth({ env: { BERTH_REGION: 'eu-west-1', BERTH_SERVER_KEY: serverKey } });
const us = await startBerth({
  env: {
    BERTH_REGION: 'us-east-1',
    BERTH_SERVER_KEY: serverKey,
    BERTH_REGIONS: JSON.stringify({ 'eu-west-1': { endpoint: eu.url } }),
    BERTH_REPLICATION_CONCURRENCY: String(PARALLEL),
  },
});
// One sandbox per lane: each skopeo run rewrites its sandbox's auth file.
const skopeos = await Promise.all(Array.from({ length: PARALLEL }, () => createSkopeo()));
try {
  console.log(`${IMAGES} images of 3 × ${LAYER_MIB} MiB, ${PARALLEL} at a time; us-east-1 ${us.url} → eu-west-1 ${eu.url}`);
  const layouts: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const dir = join(work, `img${i}`);
    await buildImageLayout(dir, { layers: 3, layerBytes: LAYER_MIB * MiB, tag: 'v1' });
    layouts.push(dir);
  }
  await pool(IMAGES, PARALLEL, (i, slot) => skopeos[slot]!.copy(`oci:${layouts[i]}:v1`, `docker://${us.host}/src/img${i}:v1`));
  const bytes = IMAGES * 3 * LAYER_MIB * MiB;

  // skopeo: us-east-1 src/i → eu-west-1 copy/i.
  const copyTimes: number[] = [];
  const copyStart = performance.now();
  await pool(IMAGES, PARALLEL, async (i, slot) => {
    const t = performance.now();
    await skopeos[slot]!.copy(`docker://${us.host}/src/img${i}:v1`, `docker://${eu.host}/copy/img${i}:v1`);
    copyTimes.push((performance.now() - t) / 1000);
  });
  const copySeconds = (performance.now() - copyStart) / 1000;

  // Replication: push src/i → prod/i in us-east-1 (mounts only), then wait for COMPLETE.
  const ecr = ecrClient(us);
  await ecr.send(
    new PutReplicationConfigurationCommand({
      replicationConfiguration: {
        rules: [{ destinations: [{ region: 'eu-west-1', registryId: '000000000000' }], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] }],
      },
    }),
  );
  const acked: number[] = [];
  const completed: number[] = [];
  const replStart = performance.now();
  await pool(IMAGES, PARALLEL, async (i, slot) => {
    await skopeos[slot]!.copy(`docker://${us.host}/src/img${i}:v1`, `docker://${us.host}/prod/img${i}:v1`);
    acked[i] = performance.now();
  });
  const pending = new Set(Array.from({ length: IMAGES }, (_, i) => i));
  while (pending.size > 0) {
    for (const i of [...pending]) {
      const out = await ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: `prod/img${i}`, imageId: { imageTag: 'v1' } }));
      const status = out.replicationStatuses?.[0]?.status;
      if (status === 'FAILED') throw new Error(`prod/img${i} failed: ${out.replicationStatuses?.[0]?.failureCode}`);
      if (status === 'COMPLETE') {
        completed[i] = performance.now();
        pending.delete(i);
      }
    }
    if (pending.size > 0) await sleep(100);
  }
  const replSeconds = (Math.max(...completed) - replStart) / 1000;
  const lags = acked.map((a, i) => (completed[i]! - a) / 1000);

  const mibs = (s: number) => bytes / MiB / s;
  console.log('');
  console.log(`| measure | Berth replication | skopeo copy | ratio (Berth/skopeo) |`);
  console.log(`|---|---|---|---|`);
  console.log(
    `| all ${IMAGES} images moved (replication: first push → last COMPLETE), s | ${replSeconds.toFixed(1)} | ${copySeconds.toFixed(1)} | ${(replSeconds / copySeconds).toFixed(2)} |`,
  );
  console.log(
    `| throughput, MiB/s | ${mibs(replSeconds).toFixed(1)} | ${mibs(copySeconds).toFixed(1)} | ${(mibs(replSeconds) / mibs(copySeconds)).toFixed(2)} |`,
  );
  console.log(
    `| per image, median s (lag: ack → COMPLETE; skopeo: one copy) | ${quantile(lags, 0.5).toFixed(2)} | ${quantile(copyTimes, 0.5).toFixed(2)} | ${(quantile(lags, 0.5) / quantile(copyTimes, 0.5)).toFixed(2)} |`,
  );
  console.log(
    `| per image, p95 s | ${quantile(lags, 0.95).toFixed(2)} | ${quantile(copyTimes, 0.95).toFixed(2)} | ${(quantile(lags, 0.95) / quantile(copyTimes, 0.95)).toFixed(2)} |`,
  );
  console.log('');
  console.log('Lag includes the wait for a free replication slot (pushes arrive faster than they replicate) and the 100 ms status poll.');
} finally {
  await Promise.all(skopeos.map((s) => s.cleanup()));
  await us.cleanup();
  await eu.cleanup();
  await rm(work, { recursive: true, force: true });
}
