/**
 * Lifecycle expiry and transition probed from outside, as an external checker would:
 * @aws-sdk/client-ecr and raw /v2 requests against the real app in process, with `berth
 * lifecycle run` (a process of its own, on the same data directory) doing the work. ECR's
 * semantics on images whose tags only partly match, multi-arch children and referrers of kept
 * images, the preview agreeing with the run, and what a run does to an image a user changes while
 * the run is under way: a tag pushed onto an image the run planned to expire or archive as
 * untagged, or an index that starts listing it. And archiving by hand refuses an index's child.
 */
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  GetLifecyclePolicyPreviewCommand,
  ListImagesCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  StartLifecyclePolicyPreviewCommand,
  UpdateImageStorageClassCommand,
  waitUntilLifecyclePolicyPreviewComplete,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath } from '../e2e/helpers/berth-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { getBlob, getManifest, numberedManifest, pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { HANG_MS, waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);

const policy = (rules: object[]) => JSON.stringify({ rules });
const KEEP_ONE_UNTAGGED = policy([
  { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
]);

/** How many untagged images a race repository holds: enough that a run takes a while to expire them. */
const RACE_IMAGES = 300;

interface LifecycleReport {
  repository: string;
  expired: Array<{ digest: string; tags: string[]; rulePriority: number }>;
  transitioned: Array<{ digest: string }>;
  referrersExpired: number;
  failures: Array<{ digest: string; reason: string }>;
  kept: Array<{ digest: string; reason: string }>;
}

describe('lifecycle expiry probed from outside', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');

  let archiveDir: string;
  const lifecycleRun = async (repo: string): Promise<LifecycleReport> => {
    const { stdout } = await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', repo, '--json'], {
      env: { ...process.env, BERTH_ARCHIVE_STORAGE: archiveDir },
    });
    return (JSON.parse(stdout) as LifecycleReport[])[0]!;
  };

  /** Each manifest's size by digest: an index must give its children's true sizes. */
  const sizes = new Map<string, number>();
  /** Pushes the n-th distinct image (one shared config blob) by PutImage; returns its digest. */
  const putImage = async (repo: string, n: number, tag?: string): Promise<string> => {
    const bytes = numberedManifest(config, n);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: bytes.toString(), ...(tag !== undefined && { imageTag: tag }) }));
    sizes.set(sha256(bytes), bytes.length);
    return sha256(bytes);
  };

  const pushedAt = async (repo: string, digest: string): Promise<number> => {
    const { imageDetails } = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: digest }] }));
    return imageDetails![0]!.imagePushedAt!.getTime();
  };

  /** Every image the repository lists reads whole: its manifest by digest, and every blob and child it names. */
  const assertReadsWhole = async (repo: string): Promise<void> => {
    const { imageIds } = await ecr.send(new ListImagesCommand({ repositoryName: repo, maxResults: 1000 }));
    for (const digest of new Set(imageIds!.map((i) => i.imageDigest!))) {
      const res = await getManifest(berth.url, repo, digest);
      assert.equal(res.status, 200, `${repo}@${digest} is listed but its manifest does not read`);
      assert.equal(sha256(res.body), digest);
      const m = JSON.parse(res.body.toString()) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
      for (const b of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
        const blob = await getBlob(berth.url, repo, b.digest);
        assert.equal(blob.status, 200, `${repo}@${digest} names blob ${b.digest}, which is not served`);
        assert.equal(sha256(blob.body), b.digest);
      }
      for (const c of m.manifests ?? [])
        assert.equal((await getManifest(berth.url, repo, c.digest)).status, 200, `${repo}@${digest} lists ${c.digest}, which is gone`);
    }
  };

  const indexOf = (children: string[]): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.index,
        manifests: children.map((digest, i) => ({
          mediaType: MediaTypes.manifest,
          digest,
          size: sizes.get(digest),
          platform: { architecture: `arch${i}`, os: 'linux' },
        })),
      }),
    );

  /** A signature-like referrer of `subject` (pushed by digest on /v2, untagged). */
  const pushSignature = async (repo: string, subject: Buffer, n: number): Promise<string> => {
    const bytes = numberedManifest(config, n, { artifactType: 'application/vnd.example.signature', subject });
    assert.equal((await pushManifest(berth.url, repo, sha256(bytes), bytes, MediaTypes.manifest)).status, 201);
    return sha256(bytes);
  };

  before(async () => {
    archiveDir = await mkdtemp(join(tmpdir(), 'berth-archive-'));
    berth = await startInProcess({ onDisk: true, env: { BERTH_ARCHIVE_STORAGE: archiveDir } });
    ecr = ecrClient(berth);
  });
  after(async () => {
    await berth?.cleanup();
    if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
  });

  it('expires an image only some of whose tags match, keeps multi-arch children and referrers of kept images, and does what the preview said', async () => {
    const repo = 'rules/mixed';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    await pushBlob(berth.url, repo, config);
    const d: Record<string, string> = {};
    d.prodTmp = await putImage(repo, 1, 'prod');
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: numberedManifest(config, 1).toString(), imageTag: 'tmp-1' }));
    d.tmp2 = await putImage(repo, 2, 'tmp-2');
    d.untaggedOld = await putImage(repo, 3);
    d.child1 = await putImage(repo, 4);
    d.child2 = await putImage(repo, 5);
    const index = indexOf([d.child1, d.child2]);
    assert.equal((await pushManifest(berth.url, repo, 'multi', index, MediaTypes.index)).status, 201);
    d.index = sha256(index);
    d.kept = await putImage(repo, 6, 'release');
    d.signature = await pushSignature(repo, numberedManifest(config, 6), 7);
    d.untaggedNew = await putImage(repo, 8);

    const text = policy([
      // ECR: an image is selected when one of its tags matches, so prod+tmp-1 is the older tmp image.
      {
        rulePriority: 1,
        selection: { tagStatus: 'tagged', tagPatternList: ['tmp*'], countType: 'imageCountMoreThan', countNumber: 1 },
        action: { type: 'expire' },
      },
      { rulePriority: 2, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
    ]);
    await ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: repo, lifecyclePolicyText: text }));
    await waitUntilLifecyclePolicyPreviewComplete({ client: ecr, maxWaitTime: HANG_MS / 1000, minDelay: 1, maxDelay: 1 }, { repositoryName: repo });
    const preview = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: repo }));
    const previewed = preview.previewResults!.map((r) => [r.imageDigest, r.appliedRulePriority, [...(r.imageTags ?? [])].sort()]);
    assert.deepEqual(previewed, [
      [d.prodTmp, 1, ['prod', 'tmp-1']],
      [d.untaggedOld, 2, []],
    ]);

    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: repo, lifecyclePolicyText: text }));
    const report = await lifecycleRun(repo);
    assert.deepEqual(
      report.expired.map((a) => [a.digest, a.rulePriority, [...a.tags].sort()]),
      previewed,
      'the run expires exactly what the preview showed',
    );
    assert.deepEqual(report.failures, []);
    const left = new Set((await ecr.send(new ListImagesCommand({ repositoryName: repo }))).imageIds!.map((i) => i.imageDigest));
    assert.deepEqual([...left].sort(), [d.tmp2, d.child1, d.child2, d.index, d.kept, d.signature, d.untaggedNew].sort());
    assert.equal((await getManifest(berth.url, repo, 'prod')).status, 404, 'prod went with the image its tmp-1 tag selected, as on ECR');
    await assertReadsWhole(repo);
  });

  it('keeps an image that was tagged after the run planned to expire it as untagged', async () => {
    const repo = 'race/tagged';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    await pushBlob(berth.url, repo, config);
    const digests: string[] = [];
    for (let n = 0; n < RACE_IMAGES; n++) digests.push(await putImage(repo, 1000 + n));
    // The newest stays (imageCountMoreThan 1); the run expires the rest oldest first, so the
    // second newest goes last. Which is which, by push time (then digest), as the run sorts:
    const order = await describeOrder(ecr, repo);
    const first = order[0]!;
    const target = order[order.length - 2]!;
    const targetPushedAt = await pushedAt(repo, target);
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: repo, lifecyclePolicyText: KEEP_ONE_UNTAGGED }));

    const running = lifecycleRun(repo);
    await waitFor('the run to expire its first image', async () => (await getManifest(berth.url, repo, first, 'HEAD')).status === 404, { intervalMs: 2 });
    // A user tags the image while the run is still working through the older ones.
    const targetIndex = digests.indexOf(target);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: numberedManifest(config, 1000 + targetIndex).toString(), imageTag: 'keep' }));
    assert.equal(await pushedAt(repo, target), targetPushedAt, 'the tag landed on the image the run planned to expire, not on a re-creation');
    const report = await running;

    const kept = await getManifest(berth.url, repo, 'keep');
    assert.equal(kept.status, 200, 'an image tagged while the run was under way is no longer untagged: the untagged rule must not expire it');
    assert.equal(sha256(kept.body), target);
    assert.ok(!report.expired.some((a) => a.digest === target), 'the report does not claim it expired');
    assert.deepEqual(report.kept, [{ digest: target, reason: 'its tags changed since the evaluation (now: keep)' }]);
    assert.equal(report.expired.length, RACE_IMAGES - 2);
    await assertReadsWhole(repo);
  });

  it('keeps the signature of an image an index started listing while the run was under way', async () => {
    const repo = 'race/indexed';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    await pushBlob(berth.url, repo, config);
    const bytes = new Map<string, Buffer>();
    for (let n = 0; n < RACE_IMAGES; n++) {
      const m = numberedManifest(config, 2000 + n);
      await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: m.toString() }));
      bytes.set(sha256(m), m);
      sizes.set(sha256(m), m.length);
    }
    const order = await describeOrder(ecr, repo);
    const first = order[0]!;
    const target = order[order.length - 2]!;
    // Signed: the signature is a referrer, expired only with its subject.
    const signature = await pushSignature(repo, bytes.get(target)!, 9999);
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: repo, lifecyclePolicyText: KEEP_ONE_UNTAGGED }));

    const running = lifecycleRun(repo);
    await waitFor('the run to expire its first image', async () => (await getManifest(berth.url, repo, first, 'HEAD')).status === 404, { intervalMs: 2 });
    const index = indexOf([target]);
    assert.equal((await pushManifest(berth.url, repo, 'multi', index, MediaTypes.index)).status, 201, 'the index lands while its child still exists');
    assert.equal((await getManifest(berth.url, repo, signature, 'HEAD')).status, 200, 'the signature was still there when the index landed');
    const report = await running;

    assert.equal((await getManifest(berth.url, repo, target)).status, 200, 'an index lists it: it stays');
    assert.equal(
      (await getManifest(berth.url, repo, signature)).status,
      200,
      'the signature of an image that stays must stay: a run that cannot expire the subject expires none of its referrers',
    );
    assert.ok(!report.expired.some((a) => a.digest === target));
    assert.deepEqual(
      report.kept.map((k) => k.digest),
      [target],
    );
    assert.match(report.kept[0]!.reason, /an index now lists it/);
    await assertReadsWhole(repo);
  });

  it('does not archive an image that was tagged after the run planned its transition', async () => {
    const repo = 'race/archived';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    await pushBlob(berth.url, repo, config);
    const digests: string[] = [];
    for (let n = 0; n < RACE_IMAGES; n++) digests.push(await putImage(repo, 3000 + n));
    const order = await describeOrder(ecr, repo);
    const first = order[0]!;
    const target = order[order.length - 2]!;
    await ecr.send(
      new PutLifecyclePolicyCommand({
        repositoryName: repo,
        lifecyclePolicyText: policy([
          {
            rulePriority: 1,
            selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 },
            action: { type: 'transition', targetStorageClass: 'archive' },
          },
        ]),
      }),
    );

    const running = lifecycleRun(repo);
    // An archived image's manifest answers 404 on /v2.
    await waitFor('the run to archive its first image', async () => (await getManifest(berth.url, repo, first, 'HEAD')).status === 404, { intervalMs: 2 });
    await ecr.send(
      new PutImageCommand({ repositoryName: repo, imageManifest: numberedManifest(config, 3000 + digests.indexOf(target)).toString(), imageTag: 'keep' }),
    );
    assert.equal((await getManifest(berth.url, repo, target, 'HEAD')).status, 200, 'the tag landed while the image was still active');
    const report = await running;

    const kept = await getManifest(berth.url, repo, 'keep');
    assert.equal(kept.status, 200, 'an image tagged while the run was under way is no longer untagged: the rule must not archive it');
    assert.ok(!report.transitioned.some((a) => a.digest === target));
    assert.deepEqual(report.kept, [{ digest: target, reason: 'its tags changed since the evaluation' }]);
    assert.equal(report.transitioned.length, RACE_IMAGES - 2);
  });

  it('UpdateImageStorageClass refuses to archive an image an index lists, changing nothing', async () => {
    const repo = 'archive/child';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    await pushBlob(berth.url, repo, config);
    const child = await putImage(repo, 4000);
    assert.equal((await pushManifest(berth.url, repo, 'multi', indexOf([child]), MediaTypes.index)).status, 201);
    await assert.rejects(
      ecr.send(new UpdateImageStorageClassCommand({ repositoryName: repo, imageId: { imageDigest: child }, targetStorageClass: 'ARCHIVE' })),
      (e: Error) => e.name === 'ImageStorageClassUpdateNotSupportedException' && /listed by an image index/.test(e.message),
    );
    assert.equal((await getManifest(berth.url, repo, child)).status, 200, 'still active');
    await assertReadsWhole(repo);
  });
});

/** The repository's images oldest first, by push time then digest, as a lifecycle run orders them. */
async function describeOrder(ecr: ECRClient, repo: string): Promise<string[]> {
  const details = [];
  let nextToken: string | undefined;
  do {
    const page = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, maxResults: 1000, ...(nextToken && { nextToken }) }));
    details.push(...page.imageDetails!);
    nextToken = page.nextToken;
  } while (nextToken);
  return details
    .map((i) => ({ digest: i.imageDigest!, at: i.imagePushedAt!.getTime() }))
    .sort((a, b) => a.at - b.at || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
    .map((i) => i.digest);
}
