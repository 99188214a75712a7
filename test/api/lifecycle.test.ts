/**
 * Lifecycle policies applied, with real clients against the real app in process: a preview
 * through @aws-sdk/client-ecr and its LifecyclePolicyPreviewComplete waiter, `berth lifecycle run`
 * (dry run and real, on the data directory, so those stores are on disk), the server's own
 * periodic evaluation, referrers expiring with their subject, and recorded pull times.
 */
import {
  DescribeImagesCommand,
  GetLifecyclePolicyCommand,
  GetLifecyclePolicyPreviewCommand,
  ListImagesCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  StartLifecyclePolicyPreviewCommand,
  waitUntilLifecyclePolicyPreviewComplete,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { cliPath } from '../e2e/helpers/berth-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { getManifest, pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { HANG_MS, waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const policy = (rules: object[]) => JSON.stringify({ rules }, null, 2);
const RULES = [
  {
    rulePriority: 1,
    description: 'keep every prod image',
    selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 9999 },
    action: { type: 'expire' },
  },
  {
    rulePriority: 2,
    description: 'keep the newest two v images',
    selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 2 },
    action: { type: 'expire' },
  },
  {
    rulePriority: 3,
    description: 'keep one untagged image',
    selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 },
    action: { type: 'expire' },
  },
];

/** Pushes a distinct one-config image; returns its digest. Pushes are spaced so push times differ. */
async function pushImage(berth: Pick<BerthInProcess, 'url'>, ecr: ECRClient, repo: string, seed: string, tag?: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ seed }));
  await pushBlob(berth.url, repo, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [],
  });
  await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, ...(tag !== undefined && { imageTag: tag }) }));
  await sleep(5);
  return sha256(manifest);
}

/** A signature-like artifact whose subject is `subject`. */
async function pushReferrer(berth: Pick<BerthInProcess, 'url'>, repo: string, subject: string): Promise<string> {
  const empty = Buffer.from('{}');
  await pushBlob(berth.url, repo, empty);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: 1 },
    }),
  );
  const res = await pushManifest(berth.url, repo, sha256(bytes), bytes, OCI_MANIFEST);
  assert.equal(res.status, 201);
  return sha256(bytes);
}

/** Whether `at` falls between two instants the test took; the wire has epoch seconds with a fraction. */
function between(at: Date | undefined, from: number, to: number): boolean {
  return at instanceof Date && at.getTime() >= from - 1000 && at.getTime() <= to + 1000;
}

async function imageDigests(ecr: ECRClient, repo: string): Promise<Set<string>> {
  const { imageIds } = await ecr.send(new ListImagesCommand({ repositoryName: repo }));
  return new Set(imageIds?.map((i) => i.imageDigest!));
}

describe('lifecycle policies applied', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  const d: Record<string, string> = {};

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    ecr = ecrClient(berth);
    d.untaggedOld = await pushImage(berth, ecr, 'app/web', 'u1');
    d.v1 = await pushImage(berth, ecr, 'app/web', 'v1', 'v1');
    d.prod = await pushImage(berth, ecr, 'app/web', 'prod', 'prod-1');
    d.v2 = await pushImage(berth, ecr, 'app/web', 'v2', 'v2');
    d.v3 = await pushImage(berth, ecr, 'app/web', 'v3', 'v3');
    d.v4 = await pushImage(berth, ecr, 'app/web', 'v4', 'v4');
    d.untaggedNew = await pushImage(berth, ecr, 'app/web', 'u2');
    d.signature = await pushReferrer(berth, 'app/web', d.v1);
  });
  after(async () => berth?.cleanup());

  it('previews with the waiter, changing nothing', async () => {
    await assert.rejects(ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'app/web' })), { name: 'LifecyclePolicyPreviewNotFoundException' });
    await assert.rejects(ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: 'app/web' })), { name: 'LifecyclePolicyNotFoundException' });
    const started = await ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: 'app/web', lifecyclePolicyText: policy(RULES) }));
    assert.equal(started.status, 'IN_PROGRESS');
    await waitUntilLifecyclePolicyPreviewComplete({ client: ecr, maxWaitTime: HANG_MS / 1000, minDelay: 1, maxDelay: 1 }, { repositoryName: 'app/web' });
    const preview = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'app/web' }));
    assert.equal(preview.status, 'COMPLETE');
    assert.deepEqual(
      preview.previewResults?.map((r) => [r.imageDigest, r.appliedRulePriority, r.action?.type]),
      [
        [d.untaggedOld, 3, 'EXPIRE'],
        [d.v1, 2, 'EXPIRE'],
        [d.v2, 2, 'EXPIRE'],
      ],
    );
    assert.deepEqual(preview.previewResults?.[1]?.imageTags, ['v1']);
    assert.equal(preview.summary?.expiringImageTotalCount, 3);
    const page = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'app/web', maxResults: 2, filter: { tagStatus: 'TAGGED' } }));
    assert.deepEqual(
      page.previewResults?.map((r) => r.imageDigest),
      [d.v1, d.v2],
    );
    assert.equal(page.nextToken, undefined);
    assert.equal((await imageDigests(ecr, 'app/web')).size, 8, 'a preview deletes nothing');
    await assert.rejects(
      ecr.send(
        new StartLifecyclePolicyPreviewCommand({
          repositoryName: 'app/web',
          lifecyclePolicyText: policy([
            { rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 0 }, action: { type: 'expire' } },
          ]),
        }),
      ),
      { name: 'InvalidParameterException' },
    );
  });

  it('`berth lifecycle run` expires what the preview showed, with referrers, and records lastEvaluatedAt', async () => {
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'app/web', lifecyclePolicyText: policy(RULES) }));
    // As ECR: the epoch until the policy was first evaluated.
    assert.equal((await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'app/web' }))).lastEvaluatedAt?.getTime(), 0);
    const args = [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--json'];
    const dry = JSON.parse((await run(process.execPath, [...args, '--dry-run'])).stdout) as Array<{ expired: Array<{ digest: string }>; evaluated: number }>;
    assert.deepEqual(
      dry[0]!.expired.map((a) => a.digest),
      [d.untaggedOld, d.v1, d.v2],
    );
    assert.equal(dry[0]!.evaluated, 7, 'the signature goes with its subject and is not evaluated on its own');
    assert.equal((await imageDigests(ecr, 'app/web')).size, 8, 'a dry run deletes nothing');
    // A log that speaks (info: which AES-GCM runs, an addon that did not load) goes to stderr: stdout stays the JSON.
    const chatty = await run(process.execPath, [...args, '--dry-run', '--log-level', 'info']);
    assert.deepEqual(
      (JSON.parse(chatty.stdout) as typeof dry).map((r) => r.expired.map((a) => a.digest)),
      dry.map((r) => r.expired.map((a) => a.digest)),
    );
    assert.match(chatty.stderr, /"msg":"encrypted blobs: which AES-GCM/);

    const runFrom = Date.now();
    const real = JSON.parse((await run(process.execPath, [...args, '--repository', 'app/web'])).stdout) as Array<{
      expired: unknown[];
      referrersExpired: number;
    }>;
    const runTo = Date.now();
    assert.equal(real[0]!.expired.length, 3);
    assert.equal(real[0]!.referrersExpired, 1);
    assert.deepEqual([...(await imageDigests(ecr, 'app/web'))].sort(), [d.prod, d.v3, d.v4, d.untaggedNew].sort());
    assert.equal((await getManifest(berth.url, 'app/web', d.signature!)).status, 404);
    const evaluated = (await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'app/web' }))).lastEvaluatedAt;
    assert.ok(between(evaluated, runFrom, runTo), `lastEvaluatedAt ${evaluated?.toISOString()} is the run's time`);

    const again = JSON.parse((await run(process.execPath, args)).stdout) as Array<{ expired: unknown[] }>;
    assert.equal(again[0]!.expired.length, 0, 'a second run finds nothing more');
    await assert.rejects(
      run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', 'no/such']),
      (e: Error & { stderr: string }) => /does not exist/.test(e.stderr),
    );
  });

  it('records pull times, shown as lastRecordedPullTime', async () => {
    const pullFrom = Date.now();
    assert.equal((await getManifest(berth.url, 'app/web', 'v4')).status, 200);
    const pullTo = Date.now();
    // Pulls are written in batches every few seconds, on the server's timer: wait for the write.
    const pulled = await waitFor('the pull of v4 to be recorded', async () => {
      const { imageDetails } = await ecr.send(new DescribeImagesCommand({ repositoryName: 'app/web', imageIds: [{ imageTag: 'v4' }] }));
      return imageDetails?.[0]?.lastRecordedPullTime;
    });
    assert.ok(between(pulled, pullFrom, pullTo), `the recorded time ${pulled.toISOString()} is the pull's`);
    const { imageDetails } = await ecr.send(new DescribeImagesCommand({ repositoryName: 'app/web', imageIds: [{ imageTag: 'v3' }] }));
    assert.equal(imageDetails?.[0]?.lastRecordedPullTime, undefined, 'an image never pulled has no pull time');
  });
});

describe('lifecycle policies evaluated by the server on its interval', () => {
  let berth: BerthInProcess;
  after(async () => berth?.cleanup());

  it('expires on its own and logs each expiry', async () => {
    berth = await startInProcess({ env: { BERTH_LIFECYCLE_INTERVAL_SECONDS: '1', BERTH_LOG_LEVEL: 'info' } });
    const ecr = ecrClient(berth);
    const keep = [];
    for (const seed of ['a', 'b', 'c']) keep.push(await pushImage(berth, ecr, 'ci/cache', seed));
    const policyFrom = Date.now();
    await ecr.send(
      new PutLifecyclePolicyCommand({
        repositoryName: 'ci/cache',
        lifecyclePolicyText: policy([
          { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
        ]),
      }),
    );
    // The server evaluates every second, but on a loaded machine a run may start and finish much
    // later: wait for its outcome. It expires images one by one, then logs each expiry and records
    // lastEvaluatedAt after the last, so each of the three is waited for on its own.
    const left = await waitFor('the server to expire images on its own', async () => {
      const digests = await imageDigests(ecr, 'ci/cache');
      return digests.size <= 1 && digests;
    });
    assert.deepEqual([...left], [keep[2]!]);
    const evaluated = await waitFor('the server to record lastEvaluatedAt', async () => {
      const at = (await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'ci/cache' }))).lastEvaluatedAt;
      return at instanceof Date && at.getTime() >= policyFrom - 1000 && at;
    });
    assert.ok(between(evaluated, policyFrom, Date.now()));
    const logged = await waitFor('the server to log both expiries', () => {
      const lines = berth
        .output()
        .split('\n')
        .filter((l) => l.includes('lifecycle expired image'));
      return lines.length >= 2 && lines;
    });
    assert.deepEqual(logged.map((l) => /"digest":"(sha256:[0-9a-f]{64})"/.exec(l)?.[1]).sort(), [keep[0]!, keep[1]!].sort());
  });
});
