/**
 * Pull-through imports landing while garbage collection sweeps, probed from outside: one Berth is
 * another's upstream (both the real app in process, over real HTTP). On the cache, the server's
 * own pass runs every second with zero grace and `berth gc` runs beside it, while pullers pull
 * images through it (manifest, then every blob, each checked against its digest) and a deleter
 * deletes cached images, so the shared layer keeps turning into garbage while imports need it.
 * Afterwards the rule is deleted, so nothing more can come from the upstream, and every image the
 * cache lists must read whole from what the cache itself holds.
 */
import {
  BatchDeleteImageCommand,
  CreatePullThroughCacheRuleCommand,
  DeletePullThroughCacheRuleCommand,
  ListImagesCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { makeImage, pushImage, runGc, type TestImage } from '../e2e/helpers/gc.js';
import { manifestAccept, request, sha256 } from '../e2e/helpers/registry-http.js';
import { HANG_MS } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const UPSTREAM_REPO = `${ACCOUNT}/tools/img`;
const CACHED_REPO = `pub/${UPSTREAM_REPO}`;
const ENOUGH = { pulled: 40, deleted: 10, swept: 1 };
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

describe('pull-through imports racing garbage collection', () => {
  let upstream: BerthInProcess;
  let cache: BerthInProcess;
  let ecr: ECRClient;
  const shared = randomBytes(4096);
  const images: TestImage[] = [];

  before(async () => {
    [upstream, cache] = await Promise.all([
      startInProcess(),
      startInProcess({ onDisk: true, env: { BERTH_GC_INTERVAL_SECONDS: '1', BERTH_GC_GRACE_SECONDS: '0' } }),
    ]);
    const pub = new ECRPUBLICClient({ endpoint: upstream.url, region: 'us-east-1', credentials: adminCredentials(upstream), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/img' }));
    for (let i = 0; i < 6; i++) {
      const img = makeImage(UPSTREAM_REPO, `t${i}`, [shared, randomBytes(1024)]);
      await pushImage(upstream.url, img);
      images.push(img);
    }
    ecr = ecrClient(cache);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'pub', upstreamRegistryUrl: upstream.url }));
  });
  after(async () => {
    await cache?.cleanup();
    await upstream?.cleanup();
  });

  /** What is wrong with pulling `ref` from the cache: the manifest and every blob it names, digest-exact. */
  const pullProblems = async (ref: string, expected?: TestImage): Promise<string[]> => {
    const auth = { Authorization: cache.authorization };
    const m = await request(`${cache.url}/v2/${CACHED_REPO}/manifests/${ref}`, { headers: { ...auth, Accept: manifestAccept } });
    if (m.status !== 200) return [`${ref}: manifest → ${m.status} ${m.body.toString().slice(0, 200)}`];
    if (expected && sha256(m.body) !== expected.digest) return [`${ref}: manifest ${sha256(m.body)}, upstream's is ${expected.digest}`];
    const parsed = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const problems: string[] = [];
    for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
      const b = await request(`${cache.url}/v2/${CACHED_REPO}/blobs/${d}`, { headers: auth });
      if (b.status !== 200) problems.push(`${ref}: blob ${d} → ${b.status} ${b.body.toString().slice(0, 200)}`);
      else if (sha256(b.body) !== d) problems.push(`${ref}: blob ${d} hashes to ${sha256(b.body)}`);
    }
    return problems;
  };

  it('serves every pull whole while passes sweep, and leaves every cached image whole', async (t) => {
    const counts = { pulled: 0, deleted: 0, swept: 0 };
    const problems: string[] = [];
    const started = Date.now();
    const enough = () => (Object.keys(ENOUGH) as Array<keyof typeof ENOUGH>).every((k) => counts[k] >= ENOUGH[k]);
    const running = () => !enough() && Date.now() - started < HANG_MS;

    const puller = async () => {
      while (running()) {
        const img = pick(images);
        problems.push(...(await pullProblems(img.tag, img)));
        counts.pulled++;
      }
    };
    const deleter = async () => {
      while (running()) {
        // The repository exists from the first pull on.
        const listed = await ecr.send(new ListImagesCommand({ repositoryName: CACHED_REPO })).catch(() => undefined);
        const ids = listed?.imageIds ?? [];
        if (ids.length < 3) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: CACHED_REPO, imageIds: [{ imageDigest: pick(ids).imageDigest! }] }));
        if ((out.imageIds?.length ?? 0) > 0) counts.deleted++;
        for (const f of out.failures ?? []) if (f.failureCode !== 'ImageNotFound') problems.push(`delete: ${JSON.stringify(f)}`);
      }
    };
    const collector = async () => {
      while (running()) counts.swept += (await runGc(cache.dataDir)).swept.blobs;
    };
    await Promise.all([puller(), puller(), puller(), deleter(), collector()]);

    const summary = JSON.stringify({ counts, seconds: Math.round((Date.now() - started) / 1000) });
    t.diagnostic(summary);
    assert.ok(enough(), `the load did not do enough to be a check: ${summary}`);
    assert.deepEqual(problems, [], summary);

    // From here on only what the cache holds can be read.
    await ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'pub' }));
    await runGc(cache.dataDir);
    const { imageIds } = await ecr.send(new ListImagesCommand({ repositoryName: CACHED_REPO }));
    const left: string[] = [];
    for (const digest of new Set((imageIds ?? []).map((i) => i.imageDigest!))) left.push(...(await pullProblems(digest)));
    assert.deepEqual(left, [], `every image the cache lists reads whole from the cache alone: ${summary}`);
  });
});
