/**
 * Scale-out figures (`npm run bench:cluster`): Berth on PostgreSQL + S3 with one node and with two
 * nodes, against the reference registry (CNCF distribution) on the same S3 server, all on this
 * machine: a throwaway PostgreSQL and a Ceph RADOS Gateway (scripts/s3-test-server.sh). Streamed
 * pushes and pulls of 3 × 64 MiB layers over raw HTTP and manifest GET requests/s; with two nodes,
 * pushes go to one and pulls and half the manifest load to the other. Prints the ratios to the
 * reference. On one 2-core machine two nodes share the same cores, so the two-node figure shows
 * that nodes cooperate correctly at speed, not that they add capacity.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startS3TestServer } from '../src/blobstore/s3/testing/s3-test-server.js';
import { startTestPostgres } from '../src/metadata/postgres/testing/cluster.js';
import { pullBlob, pushBlob, putManifest, requestRate } from './http-client.js';
import { startBerthServer, startReferenceServer, type Server } from './servers.js';

const quick = process.env.BENCH_QUICK === '1';
const MiB = 1024 * 1024;
const LAYERS = 3;
const LAYER_BYTES = (quick ? 16 : 64) * MiB;
const LOAD = { connections: 64, seconds: quick ? 2 : 8 };

interface Figures {
  push: number;
  pull: number;
  manifest: number;
}

async function measure(pushTo: Server, pullFrom: Server[], tag: string): Promise<Figures> {
  const repo = `bench/cluster-${tag}`;
  let t = performance.now();
  const digests: string[] = [];
  for (let i = 0; i < LAYERS; i++) digests.push(await pushBlob(pushTo, repo, LAYER_BYTES, 7000 + i));
  const push = (LAYERS * LAYER_BYTES) / MiB / ((performance.now() - t) / 1000);
  t = performance.now();
  let bytes = 0;
  for (const [i, d] of digests.entries()) bytes += await pullBlob(pullFrom[i % pullFrom.length]!, repo, d);
  const pull = bytes / MiB / ((performance.now() - t) / 1000);
  const config = await pushBlob(pushTo, repo, 512, 1);
  await putManifest(
    pushTo,
    repo,
    'v1',
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 520 },
      layers: [],
    }),
  );
  const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
  const share = { ...LOAD, connections: LOAD.connections / pullFrom.length };
  const rates = await Promise.all(pullFrom.map((s) => requestRate(s, 'GET', `/v2/${repo}/manifests/v1`, { ...share, headers: accept })));
  return { push, pull, manifest: rates.reduce((n, r) => n + r.perSecond, 0) };
}

async function main(): Promise<void> {
  const work = resolve('bench/.work');
  await mkdir(work, { recursive: true });
  const dir = await mkdtemp(join(work, 'cluster-'));
  const pg = await startTestPostgres();
  const s3 = await startS3TestServer();
  if (!pg || 'unavailable' in s3) throw new Error(`needs PostgreSQL and the S3 test server: ${'unavailable' in s3 ? s3.unavailable : 'no PostgreSQL'}`);
  const stops: Array<() => Promise<void>> = [];
  try {
    const db = await pg.newDatabase();
    const env = {
      BERTH_DATABASE_URL: db.connectionString,
      BERTH_STORAGE: `s3://${s3.bucket}/bench-${randomBytes(4).toString('hex')}`,
      BERTH_S3_ENDPOINT: s3.endpoint,
      BERTH_S3_REGION: s3.region,
      BERTH_S3_ACCESS_KEY_ID: s3.accessKeyId,
      BERTH_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      BERTH_SERVER_KEY: randomBytes(32).toString('base64'),
      BERTH_LOG_LEVEL: 'warn',
    };
    const a = await startBerthServer(dir, { env, name: 'berth-a' });
    stops.push(a.stop);
    const ref = await startReferenceServer(
      dir,
      `{s3: {region: ${s3.region}, regionendpoint: "${s3.endpoint}", bucket: ${s3.bucket}, accesskey: ${s3.accessKeyId}, secretkey: ${s3.secretAccessKey}, rootdirectory: /reference-${randomBytes(4).toString('hex')}, secure: false, v4auth: true}, delete: {enabled: true}, redirect: {disable: true}}`,
    );
    stops.push(ref.stop);
    const rows: Array<[string, Figures]> = [];
    rows.push(['reference (S3)', await measure(ref, [ref], 'ref')]);
    rows.push(['berth, 1 node (PostgreSQL + S3)', await measure(a, [a], 'one')]);
    // The second node joins the same database and bucket (its login comes from its own key file).
    const b = await startBerthServer(dir, { env, name: 'berth-b', joins: a.dataDir! });
    stops.push(b.stop);
    rows.push(['berth, 2 nodes (push to one, pull from both)', await measure(a, [a, b], 'two')]);
    const base = rows[0]![1];
    console.log(`\n${'cluster'.padEnd(46)} ${'push MB/s'.padStart(10)} ${'pull MB/s'.padStart(10)} ${'manifest GET/s'.padStart(15)}`);
    for (const [name, f] of rows) {
      const r = (x: number, y: number) => `${x.toFixed(1)} (${(x / y).toFixed(2)})`;
      console.log(`${name.padEnd(46)} ${r(f.push, base.push).padStart(10)} ${r(f.pull, base.pull).padStart(10)} ${r(f.manifest, base.manifest).padStart(15)}`);
    }
    console.log('(ratios to the reference in parentheses; higher is better)');
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await pg.stop();
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
