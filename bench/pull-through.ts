/**
 * The pull-through cache's cost (`npm run bench:pull-through`): skopeo copies one image (layers
 * of BENCH_LAYER_MIB MiB, 16 and 1 by default; BENCH_QUICK=1: 2 and 1) to a local OCI layout
 *
 * - directly from the upstream (the reference registry, `docker-registry`),
 * - through Berth while the image is cold (Berth fetches it from that upstream as it serves it),
 * - through Berth again once it is cached (warm),
 *
 * each round under a fresh repository name (so "cold" is cold), in rotating order, BENCH_ROUNDS
 * rounds (default 5). It prints the median wall time of each and the ratios to the direct pull.
 * The machine may be shared: read the ratios of one run, and repeat.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildImageLayout } from '../test/e2e/helpers/oci-layout.js';
import { createSkopeo } from '../test/e2e/helpers/skopeo.js';
import { startBerthServer, startReferenceServer } from './servers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 5));
const LAYERS = (process.env.BENCH_LAYER_MIB ?? (QUICK ? '2,1' : '16,1')).split(',').map(Number);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const work = await mkdtemp(join(tmpdir(), 'berth-bench-ptc-'));
const upstream = await startReferenceServer(work);
const berth = await startBerthServer(work);
const skopeo = await createSkopeo();
try {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: berth.url,
    AWS_ACCESS_KEY_ID: berth.admin!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: berth.admin!.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  await run(
    'aws',
    ['ecr', 'create-pull-through-cache-rule', '--cli-input-json', JSON.stringify({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: upstream.url })],
    {
      env,
    },
  );
  const layout = join(work, 'image');
  await buildImageLayout(layout, { layers: LAYERS.length, layerBytes: LAYERS.map((m) => m * MiB), tag: 'v1' });
  const fromBerth = ['--src-creds', berth.creds!];
  const timed = async (src: string, extra: string[] = []) => {
    const out = await mkdtemp(join(work, 'out-'));
    const started = process.hrtime.bigint();
    await skopeo.copy(src, `oci:${out}:v1`, extra);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    await rm(out, { recursive: true, force: true });
    return ms;
  };
  const imported = async (repo: string) => {
    // Warm means cached: the import (manifest stored after its blobs) has finished.
    for (let i = 0; i < 600; i++) {
      const { stdout } = await run('aws', ['ecr', 'list-images', '--repository-name', repo, '--output', 'json'], { env }).catch(() => ({ stdout: '{}' }));
      if (((JSON.parse(stdout) as { imageIds?: Array<{ imageTag?: string }> }).imageIds ?? []).some((i) => i.imageTag === 'v1')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${repo} was never cached`);
  };
  const times: Record<'direct' | 'cold' | 'warm', number[]> = { direct: [], cold: [], warm: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const repo = `bench/app-${round}`;
    await skopeo.copy(`oci:${layout}:v1`, `docker://${upstream.host}/${repo}:v1`);
    // Cold before warm (it makes the cache warm); the direct pull before or after, alternately.
    if (round % 2 === 0) times.direct.push(await timed(`docker://${upstream.host}/${repo}:v1`));
    times.cold.push(await timed(`docker://${berth.host}/hub/${repo}:v1`, fromBerth));
    await imported(`hub/${repo}`);
    times.warm.push(await timed(`docker://${berth.host}/hub/${repo}:v1`, fromBerth));
    if (round % 2 === 1) times.direct.push(await timed(`docker://${upstream.host}/${repo}:v1`));
  }
  const direct = median(times.direct);
  console.log(`skopeo copy of one image (layers ${LAYERS.join(' + ')} MiB) to an OCI layout, ${ROUNDS} rounds (median ms, ratio to direct, each round):`);
  for (const [name, label] of [
    ['direct', 'direct from the upstream'],
    ['cold', 'through Berth, cold'],
    ['warm', 'through Berth, cached'],
  ] as const) {
    const xs = times[name];
    console.log(`  ${label.padEnd(26)} ${median(xs).toFixed(0).padStart(7)}  x${(median(xs) / direct).toFixed(2)}   ${xs.map((x) => x.toFixed(0)).join(' ')}`);
  }
} finally {
  await skopeo.cleanup();
  await berth.stop();
  await upstream.stop();
  await rm(work, { recursive: true, force: true });
}
