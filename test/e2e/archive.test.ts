/**
 * The archive storage class through real clients: a lifecycle `transition` rule (previewed, then
 * applied by `berth lifecycle run`) archives the older of two images sharing a layer; the AWS CLI
 * lists it ARCHIVED; skopeo and BatchGetImage cannot pull it; its own layers' bytes move to the
 * archiveStorage directory (still sealed) while the shared layer stays in the standard store;
 * refused storage-class changes change nothing; UpdateImageStorageClass restores it and skopeo
 * pulls the same digest again; an archived image can be deleted and collected from the archive.
 * Run on the local disk with SQLite, and on PostgreSQL with S3 (Ceph RGW): the archive is then
 * a second prefix, written with an S3 storage class.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DescribeImagesCommand, type ECRClient, GetLifecyclePolicyPreviewCommand } from '@aws-sdk/client-ecr';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { sampleSum, scrape } from './helpers/prometheus-text.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { berthCli, blobFile } from './helpers/gc.js';
import { blobPath, buildImageLayout, hashFile, type BuiltImage } from './helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';
import { startS3TestServer, type S3TestServer } from '../../src/blobstore/s3/testing/s3-test-server.js';
import { startTestPostgres, type TestPostgres } from '../../src/metadata/postgres/testing/cluster.js';

const run = promisify(execFile);

const pg: TestPostgres | undefined = await startTestPostgres();
const s3 = await startS3TestServer();
const s3Unavailable = 'unavailable' in s3 ? s3.unavailable : undefined;
if (s3Unavailable && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server: ${s3Unavailable}`);
after(async () => {
  await pg?.stop();
  if (!('unavailable' in s3)) await s3.stop();
});

/** Where a deployment keeps blob bytes, as the test inspects them from outside Berth. */
interface Storage {
  /** The server's environment (its archive location among it); the CLI gets it too. */
  env: Record<string, string>;
  inStandard(digest: string): Promise<boolean>;
  inArchive(digest: string): Promise<boolean>;
  /** The archived bytes, when Berth itself seals them (the local disk); S3 encrypts its own. */
  archivedBytes?(digest: string): Promise<Buffer>;
}

/** The local disk and SQLite: the archive is a second directory. */
async function localDisk(dataDir: () => string): Promise<Storage> {
  const archiveDir = await tempDir('berth-archive-');
  return {
    env: { BERTH_ARCHIVE_STORAGE: archiveDir },
    inStandard: async (d) => existsSync(blobFile(dataDir(), d)),
    inArchive: async (d) => existsSync(blobFile(archiveDir, d)),
    archivedBytes: (d) => readFile(blobFile(archiveDir, d)),
  };
}

/** PostgreSQL and S3: the archive is a second prefix of the bucket, written with a storage class. */
async function onS3(server: S3TestServer, databaseUrl: string): Promise<Storage> {
  const prefix = `berth-archive-${randomBytes(4).toString('hex')}`;
  const raw = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  const has = async (sub: string, digest: string) => {
    const res = await raw.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/${sub}/blobs/` }));
    return (res.Contents ?? []).some((o) => o.Key!.endsWith(`/${digest.slice('sha256:'.length)}`));
  };
  return {
    env: {
      BERTH_DATABASE_URL: databaseUrl,
      BERTH_STORAGE: `s3://${server.bucket}/${prefix}/standard`,
      BERTH_ARCHIVE_STORAGE: `s3://${server.bucket}/${prefix}/cold`,
      BERTH_ARCHIVE_S3_STORAGE_CLASS: 'STANDARD',
      BERTH_S3_ENDPOINT: server.endpoint,
      BERTH_S3_REGION: server.region,
      BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
      BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
    },
    inStandard: (d) => has('standard', d),
    inArchive: (d) => has('cold', d),
  };
}

interface ImageDetail {
  imageDigest: string;
  imageTags?: string[];
  imageStatus: string;
  lastArchivedAt?: number;
  lastActivatedAt?: number;
}

// The two deployments side by side: each has a server, a database and storage of its own.
describe('the archive storage class', { concurrency: 2 }, () => {
  archiveSuite(
    'on the local disk',
    () => true,
    (dataDir) => localDisk(dataDir),
  );
  archiveSuite(
    'on PostgreSQL and S3',
    () => (pg ? (s3Unavailable ?? true) : 'PostgreSQL is not installed'),
    async () => onS3(s3 as S3TestServer, (await pg!.newDatabase()).connectionString),
  );
});

function archiveSuite(name: string, available: () => true | string, storage: (dataDir: () => string) => Promise<Storage>): void {
  // One test after another (each builds on the last), whatever the parent's concurrency.
  describe(name, { skip: available() === true ? false : (available() as string), concurrency: 1 }, () => {
    let berth: BerthProcess;
    let where: Storage;
    let metricsPort: number;
    let env: NodeJS.ProcessEnv;
    let skopeo: Skopeo;
    let src: string;
    let older: BuiltImage;
    let newer: BuiltImage;
    const repo = 'arch/app';
    const aws = async (...args: string[]) =>
      JSON.parse((await run('aws', ['ecr', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
    const awsFails = async (...args: string[]) => {
      try {
        await run('aws', ['ecr', ...args], { env });
      } catch (e) {
        return (e as { stderr: string }).stderr;
      }
      assert.fail(`aws ecr ${args.join(' ')} succeeded`);
    };
    const describeAll = async () =>
      ((await aws('describe-images', '--repository-name', repo, '--filter', 'imageStatus=ANY')).imageDetails as ImageDetail[]).sort((a, b) =>
        a.imageDigest < b.imageDigest ? -1 : 1,
      );
    const statusOf = async (digest: string) => (await describeAll()).find((d) => d.imageDigest === digest);
    let client: ECRClient | undefined;
    const ecr = () => (client ??= ecrClient(berth));
    /** The layers only the older image has (the newer one shares its first). */
    const ownLayers = () => older.layers.slice(1);
    const shared = () => older.layers[0]!;

    before(async () => {
      where = await storage(() => berth.dataDir);
      metricsPort = await freePort();
      berth = await startBerth({ env: { ...where.env, BERTH_METRICS_PORT: String(metricsPort) } });
      env = awsCliEnv(berth);
      skopeo = await createSkopeo();
      src = await tempDir('berth-archive-src-');
      older = await buildImageLayout(src, { layers: 3, layerBytes: 150_000, tag: 'v1' });
      newer = await buildImageLayout(src, { layers: 1, layerBytes: 60_000, tag: 'v2', reuseLayers: [older.layers[0]!] });
    });
    after(async () => {
      client?.destroy();
      await skopeo?.cleanup();
      await berth?.cleanup();
    });

    it('a lifecycle transition archives the older image: previewed, applied, listed ARCHIVED', async () => {
      await aws('create-repository', '--repository-name', repo);
      await skopeo.copy(`oci:${src}:v1`, `docker://${berth.host}/${repo}:v1`, ['--preserve-digests']);
      await skopeo.copy(`oci:${src}:v2`, `docker://${berth.host}/${repo}:v2`, ['--preserve-digests']);
      const policy = {
        rules: [
          {
            rulePriority: 1,
            description: 'archive all but the newest image',
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
            action: { type: 'transition', targetStorageClass: 'archive' },
          },
        ],
      };
      await aws('put-lifecycle-policy', '--repository-name', repo, '--lifecycle-policy-text', JSON.stringify(policy));

      await aws('start-lifecycle-policy-preview', '--repository-name', repo);
      // Polled through the SDK (a CLI run is ~1 CPU-s a probe); the answer checked is the CLI's.
      await waitFor('the preview', async () => (await ecr().send(new GetLifecyclePolicyPreviewCommand({ repositoryName: repo }))).status === 'COMPLETE');
      const preview = await aws('get-lifecycle-policy-preview', '--repository-name', repo);
      assert.deepEqual(preview.previewResults, [
        {
          imageTags: ['v1'],
          imageDigest: older.manifestDigest,
          imagePushedAt: (preview.previewResults as Array<{ imagePushedAt: number }>)[0]!.imagePushedAt,
          action: { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
          appliedRulePriority: 1,
          storageClass: 'STANDARD',
        },
      ]);
      assert.deepEqual(preview.summary, { expiringImageTotalCount: 0, transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE', imageTotalCount: 1 }] });
      // The preview changed nothing.
      assert.equal((await statusOf(older.manifestDigest))?.imageStatus, 'ACTIVE');

      const { stdout } = await berthCli(['lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', repo, '--json'], where.env);
      const [report] = JSON.parse(stdout) as Array<{ transitioned: Array<{ digest: string }>; expired: unknown[]; failures: unknown[] }>;
      assert.deepEqual(
        report!.transitioned.map((t) => t.digest),
        [older.manifestDigest],
      );
      assert.deepEqual([report!.expired, report!.failures], [[], []]);

      // The listings side by side (each AWS CLI run is most of a CPU-second), checked in order.
      const [activeList, archivedList, listed] = await Promise.all([
        aws('list-images', '--repository-name', repo),
        aws('list-images', '--repository-name', repo, '--filter', 'imageStatus=ARCHIVED'),
        // Both images from one listing.
        describeAll(),
      ]);
      // ECR's listings show ACTIVE images unless the filter asks for others.
      const active = activeList.imageIds as Array<{ imageTag: string }>;
      assert.deepEqual(
        active.map((i) => i.imageTag),
        ['v2'],
      );
      const archived = archivedList.imageIds as Array<{ imageTag: string; imageDigest: string }>;
      assert.deepEqual(archived, [{ imageDigest: older.manifestDigest, imageTag: 'v1' }]);
      const detail = listed.find((d) => d.imageDigest === older.manifestDigest);
      assert.equal(detail?.imageStatus, 'ARCHIVED');
      assert.deepEqual(detail?.imageTags, ['v1'], 'an archived image keeps its tags');
      assert.equal(typeof detail?.lastArchivedAt, 'number');
      assert.equal(listed.find((d) => d.imageDigest === newer.manifestDigest)?.imageStatus, 'ACTIVE');
    });

    it('refuses pulls of the archived image: skopeo, BatchGetImage, GetDownloadUrlForLayer; the shared layer stays readable', async () => {
      const out = await tempDir('berth-archive-out-');
      // Reads that change nothing, side by side (each AWS CLI run is most of a CPU-second),
      // checked in order below; the pull is handled at once so its refusal is not "unhandled".
      const pull = skopeo.copy(`docker://${berth.host}/${repo}:v1`, `oci:${out}:v1`);
      pull.catch(() => undefined);
      const [got, refusedUrl, url, availability] = await Promise.all([
        aws('batch-get-image', '--repository-name', repo, '--image-ids', 'imageTag=v1'),
        awsFails('get-download-url-for-layer', '--repository-name', repo, '--layer-digest', ownLayers()[0]!.digest),
        aws('get-download-url-for-layer', '--repository-name', repo, '--layer-digest', shared().digest),
        aws('batch-check-layer-availability', '--repository-name', repo, '--layer-digests', ownLayers()[0]!.digest, shared().digest),
      ]);
      await assert.rejects(pull, /archived/);
      assert.deepEqual(got.images, []);
      assert.deepEqual(got.failures, [
        { imageId: { imageTag: 'v1' }, failureCode: 'ImageNotFound', failureReason: 'Requested image is archived; restore it with UpdateImageStorageClass' },
      ]);
      assert.match(refusedUrl, /LayerInaccessibleException.*archived/);
      assert.equal(url.layerDigest, shared().digest);
      const layers = availability.layers as Array<{ layerAvailability: string }>;
      assert.deepEqual(
        layers.map((l) => l.layerAvailability),
        ['ARCHIVED', 'AVAILABLE'],
      );
      // The newer image, which shares a layer, still pulls whole.
      await skopeo.copy(`docker://${berth.host}/${repo}:v2`, `oci:${out}:v2`, ['--preserve-digests']);
      for (const l of newer.layers) assert.equal(await hashFile(blobPath(out, l.digest)), l.digest);
    });

    it('moves only the layers no active image shares to the archive location, still sealed', async () => {
      for (const l of ownLayers()) {
        await waitFor(`layer ${l.digest} in the archive`, async () => (await where.inArchive(l.digest)) && !(await where.inStandard(l.digest)));
        if (l === ownLayers()[0]) {
          // The config, referenced by the older image alone, moves too.
          await waitFor('the config in the archive', async () => (await where.inArchive(older.configDigest)) && !(await where.inStandard(older.configDigest)));
        }
        if (!where.archivedBytes) continue;
        const stored = await where.archivedBytes(l.digest);
        const plain = await readFile(blobPath(src, l.digest));
        assert.ok(!stored.includes(plain.subarray(plain.length >> 1, (plain.length >> 1) + 48)), `layer ${l.digest} is sealed in the archive`);
      }
      assert.ok(await where.inStandard(shared().digest), 'the shared layer stays in the standard store');
      assert.ok(!(await where.inArchive(shared().digest)), 'the shared layer is not copied to the archive');
      // The storage report's archive class: the older image's own layers and its config.
      const manifest = JSON.parse(older.manifest.toString()) as { config: { size: number } };
      const expected = manifest.config.size + ownLayers().reduce((n, l) => n + l.size, 0);
      const metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(sampleSum(metrics, 'berth_repository_archive_bytes', { repository: repo }), expected);
      assert.ok(sampleSum(metrics, 'berth_repository_storage_bytes', { repository: repo }) > expected, 'the total counts both classes');
    });

    it('refuses storage-class changes it does not support, changing nothing', async () => {
      // What a refusal could change; the pull time is flushed in the background by the earlier pull.
      const state = async () =>
        (await describeAll()).map(({ imageDigest, imageTags, imageStatus, lastArchivedAt }) => ({ imageDigest, imageTags, imageStatus, lastArchivedAt }));
      const before = await state();
      const cases: Array<[string[], RegExp]> = [
        [['--image-id', 'imageTag=v1', '--target-storage-class', 'GLACIER'], /InvalidParameterException|ValidationException/],
        [['--image-id', 'imageTag=nope', '--target-storage-class', 'STANDARD'], /ImageNotFoundException/],
        [['--image-id', 'imageTag=v2', '--target-storage-class', 'STANDARD'], /ImageStorageClassUpdateNotSupportedException.*ACTIVE/],
        [['--image-id', 'imageTag=v1', '--target-storage-class', 'ARCHIVE'], /ImageStorageClassUpdateNotSupportedException.*ARCHIVED/],
      ];
      // Refusals side by side (each AWS CLI process is most of a second of CPU); the unchanged
      // state is checked after all of them.
      const refusals = await Promise.all(cases.map(([args]) => awsFails('update-image-storage-class', '--repository-name', repo, ...args)));
      for (const [i, [args, expected]] of cases.entries()) assert.match(refusals[i]!, expected, args.join(' '));
      assert.match(
        await awsFails('update-image-storage-class', '--repository-name', 'arch/none', '--image-id', 'imageTag=v1', '--target-storage-class', 'STANDARD'),
        /RepositoryNotFoundException/,
      );
      assert.deepEqual(await state(), before);
    });

    it('UpdateImageStorageClass restores it: ACTIVATING, then ACTIVE once the bytes are back, and skopeo pulls the same digest', async () => {
      const restored = await aws('update-image-storage-class', '--repository-name', repo, '--image-id', 'imageTag=v1', '--target-storage-class', 'STANDARD');
      assert.deepEqual(restored.imageId, { imageDigest: older.manifestDigest, imageTag: 'v1' });
      assert.ok(['ACTIVATING', 'ACTIVE'].includes(restored.imageStatus as string), String(restored.imageStatus));
      await waitFor('the image ACTIVE again', async () => {
        const d = await ecr().send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: older.manifestDigest }] }));
        return d.imageDetails?.[0]?.imageStatus === 'ACTIVE';
      });
      const detail = (await statusOf(older.manifestDigest))!;
      assert.equal(detail.imageStatus, 'ACTIVE');
      assert.equal(typeof detail.lastActivatedAt, 'number');
      for (const l of ownLayers()) {
        assert.ok(await where.inStandard(l.digest), `layer ${l.digest} back in the standard store`);
        assert.ok(!(await where.inArchive(l.digest)), `layer ${l.digest} gone from the archive`);
      }
      const out = await tempDir('berth-archive-restored-');
      await skopeo.copy(`docker://${berth.host}/${repo}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
      const raw = await skopeo.inspectRaw(`docker://${berth.host}/${repo}:v1`);
      assert.deepEqual(raw, older.manifest);
      for (const l of older.layers) assert.equal(await hashFile(blobPath(out, l.digest)), l.digest);
      // Archived by hand this time, and deleted while archived: ECR allows both.
      const archived = await aws('update-image-storage-class', '--repository-name', repo, '--image-id', 'imageTag=v1', '--target-storage-class', 'ARCHIVE');
      assert.equal(archived.imageStatus, 'ARCHIVED');
      for (const l of ownLayers()) await waitFor(`layer ${l.digest} archived again`, () => where.inArchive(l.digest));
      const deleted = await aws('batch-delete-image', '--repository-name', repo, '--image-ids', 'imageTag=v1');
      assert.deepEqual(deleted.failures, []);
      assert.deepEqual(
        (await describeAll()).map((d) => d.imageDigest),
        [newer.manifestDigest],
      );
      // The garbage collector reclaims archived bytes like any others.
      await berthCli(['gc', '--data-dir', berth.dataDir, '--json'], { ...where.env, BERTH_GC_GRACE_SECONDS: '0' });
      for (const l of ownLayers()) {
        assert.deepEqual([await where.inStandard(l.digest), await where.inArchive(l.digest)], [false, false], `layer ${l.digest} collected`);
      }
      assert.ok(await where.inStandard(shared().digest), 'the layer the newer image shares is kept');
    });
  });
}
