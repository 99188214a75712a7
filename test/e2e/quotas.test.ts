/**
 * ECR's service quotas through real clients: the deployment's values (BERTH_QUOTAS) met with
 * the AWS CLI and skopeo, one account's own value (`berth admin set-quota`) that leaves the
 * other accounts alone, concurrent creations that cannot both take the last slot, and the
 * layer API's part quotas. Every refusal names its quota and changes nothing.
 *
 * The CLI meets each quota the ECR API enforces once (put-image, create-repository, a part from a
 * file) and starts the layer upload whose part size it reads; the other calls go through the ECR
 * SDK, another real client, at a thousandth of a CLI process's CPU (~0.9 s each on a 2-core machine).
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  InitiateLayerUploadCommand,
  ListImagesCommand,
  UploadLayerPartCommand,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from './helpers/iam-users.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { refusal } from './helpers/refusal.js';
import { asBody, errorCode, numberedManifest, pushBlob, sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const OTHER = '111122223333';
const QUOTAS = {
  repositoriesPerRegistry: 4,
  imagesPerRepository: 2,
  tagsPerImage: 2,
  referrersPerSubject: 1,
  maxLayerBytes: 3 * MiB,
  layerParts: 3,
  maxLayerPartBytes: 256 * KiB,
  minLayerPartBytes: 64 * KiB,
};

describe('service quotas', () => {
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let other: TestIdentity;
  let ecr: ECRClient;
  const docker = (ref: string) => `docker://${berth.host}/${ref}`;
  const aws = async (...args: string[]) =>
    JSON.parse((await run('aws', ['ecr', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
  /** The CLI's stderr for a call that must fail. */
  const awsFails = async (...args: string[]): Promise<string> => {
    try {
      await run('aws', ['ecr', ...args], { env });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ecr ${args.join(' ')} succeeded`);
  };
  /** `berth admin` with the server's configuration, as an operator would run it. */
  const admin = async (...args: string[]) =>
    (await run(process.execPath, [cliPath, 'admin', ...args, '--data-dir', berth.dataDir], { env: { ...process.env, BERTH_QUOTAS: JSON.stringify(QUOTAS) } }))
      .stdout;

  before(async () => {
    work = await tempDir('berth-quotas-');
    [berth, skopeo] = await Promise.all([startBerth({ env: { BERTH_QUOTAS: JSON.stringify(QUOTAS) } }), createSkopeo()]);
    env = { ...awsCliEnv(berth), AWS_MAX_ATTEMPTS: '1' };
    ecr = ecrClient(berth);
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('images per repository and tags per image: skopeo and the CLI are refused past the quota, naming it', async () => {
    const src = join(work, 'images');
    for (const tag of ['a', 'b', 'c']) await buildImageLayout(src, { layers: 1, layerBytes: 2048, tag });
    await skopeo.copy(`oci:${src}:a`, docker('q/images:a'));
    await skopeo.copy(`oci:${src}:b`, docker('q/images:b'));
    await assert.rejects(skopeo.copy(`oci:${src}:c`, docker('q/images:c')), /imagesPerRepository/);
    const listed = await ecr.send(new ListImagesCommand({ repositoryName: 'q/images' }));
    assert.deepEqual(listed.imageIds?.map((i) => i.imageTag).sort(), ['a', 'b'], 'the refused push left nothing');
    // A new tag on an image already there is not a new image.
    await skopeo.copy(`oci:${src}:a`, docker('q/images:a2'));
    const manifest = await ecr.send(new BatchGetImageCommand({ repositoryName: 'q/images', imageIds: [{ imageTag: 'a' }] }));
    const body = manifest.images![0]!.imageManifest!;
    const refused = await awsFails('put-image', '--repository-name', 'q/images', '--image-tag', 'a3', '--image-manifest', body);
    assert.match(refused, /LimitExceededException/);
    assert.match(refused, /tagsPerImage/);
    const tags = await ecr.send(new DescribeImagesCommand({ repositoryName: 'q/images', imageIds: [{ imageTag: 'a' }] }));
    assert.deepEqual(tags.imageDetails![0]!.imageTags!.sort(), ['a', 'a2']);
  });

  it('repositories per registry: create-repository and create-on-push refused at the deployment value', async () => {
    const repositoryNames = async () => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName!);
    const before = (await repositoryNames()).length;
    for (let n = before; n < QUOTAS.repositoriesPerRegistry; n++) await ecr.send(new CreateRepositoryCommand({ repositoryName: `q/repo-${n}` }));
    const refused = await awsFails('create-repository', '--repository-name', 'q/one-too-many');
    assert.match(refused, /LimitExceededException/);
    assert.match(refused, /repositoriesPerRegistry/);
    const src = join(work, 'repos');
    await buildImageLayout(src, { layers: 1, layerBytes: 1024, tag: 'v1' });
    await assert.rejects(skopeo.copy(`oci:${src}:v1`, docker('q/pushed-new:v1')), /repositoriesPerRegistry/);
    const names = await repositoryNames();
    assert.equal(names.length, QUOTAS.repositoriesPerRegistry);
    assert.ok(!names.includes('q/one-too-many') && !names.includes('q/pushed-new'));
  });

  it("one account's own value (berth admin set-quota) applies to it alone, and concurrent creations never pass it", async () => {
    await createAccount(berth, OTHER);
    // Set before the account's first call: no node has its values cached yet.
    const set = JSON.parse(await admin('set-quota', OTHER, 'repositoriesPerRegistry', '2')) as { value: number; source: string };
    assert.deepEqual([set.value, set.source], [2, 'account']);
    await admin('set-quota', OTHER, 'imagesPerRepository', '10');
    other = await otherAccountIdentity(berth, OTHER);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => other.ecr.send(new CreateRepositoryCommand({ repositoryName: `race/r${i}` }))),
    );
    const created = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === 'LimitExceededException');
    assert.equal(created, 2, 'exactly the quota, however the creations interleave');
    assert.equal(refused.length, 6);
    assert.equal((await other.ecr.send(new DescribeRepositoriesCommand({}))).repositories?.length, 2);
    const listed = JSON.parse(await admin('list-quotas', '--account-id', OTHER)) as {
      quotas: Array<{ name: string; value: number; source: string; ecrDefault: number }>;
    };
    const line = listed.quotas.find((q) => q.name === 'repositoriesPerRegistry')!;
    assert.deepEqual([line.value, line.source, line.ecrDefault], [2, 'account', 10_000]);
    const images = listed.quotas.find((q) => q.name === 'imagesPerRepository')!;
    assert.deepEqual([images.value, images.source], [10, 'account']);
    const tags = listed.quotas.find((q) => q.name === 'tagsPerImage')!;
    assert.deepEqual([tags.value, tags.source], [QUOTAS.tagsPerImage, 'deployment']);
    await assert.rejects(admin('set-quota', OTHER, 'noSuchQuota', '5'), /unknown quota 'noSuchQuota'/);
  });

  it('layer size on /v2 (SIZE_INVALID) and the layer API part quotas (LimitExceededException)', async () => {
    const target = 'q/repo-1';
    const big = await pushBlob(berth.url, target, randomBytes(QUOTAS.maxLayerBytes + 1));
    assert.equal(big.status, 400);
    assert.equal(errorCode(big), 'SIZE_INVALID');
    assert.match(big.body.toString(), /maxLayerBytes/);

    const start = (await aws('initiate-layer-upload', '--repository-name', target)) as { uploadId: string; partSize: number };
    assert.equal(start.partSize, QUOTAS.maxLayerPartBytes, 'InitiateLayerUpload advertises the part quota');
    // The CLI's part comes from a file (fileb://); the others from memory through the SDK.
    const file = join(work, 'part-0');
    await writeFile(file, randomBytes(QUOTAS.maxLayerPartBytes + 1));
    const tooBig = await awsFails(
      ...['upload-layer-part', '--repository-name', target, '--upload-id', start.uploadId],
      ...['--part-first-byte', '0', '--part-last-byte', String(QUOTAS.maxLayerPartBytes), '--layer-part-blob', `fileb://${file}`],
    );
    assert.match(tooBig, /LimitExceededException[\s\S]*maxLayerPartBytes/);
    const part = (data: Buffer, first: number) =>
      ecr.send(
        new UploadLayerPartCommand({
          repositoryName: target,
          uploadId: start.uploadId,
          partFirstByte: first,
          partLastByte: first + data.length - 1,
          layerPartBlob: data,
        }),
      );
    const layer = randomBytes(3 * QUOTAS.minLayerPartBytes + 10);
    let at = 0;
    for (const size of [QUOTAS.minLayerPartBytes, QUOTAS.minLayerPartBytes, QUOTAS.minLayerPartBytes]) {
      await part(layer.subarray(at, at + size), at);
      at += size;
    }
    const fourth = await refusal(part(layer.subarray(at), at));
    assert.match(fourth, /LimitExceededException[\s\S]*layerParts/);

    // A short part may only be the last one.
    const second = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: target }));
    start.uploadId = second.uploadId!;
    await part(layer.subarray(0, 100), 0);
    const afterShort = await refusal(part(layer.subarray(100, 200), 100));
    assert.match(afterShort, /LimitExceededException[\s\S]*minLayerPartBytes/);
  });

  it("referrers per subject: a subject's second referrer is refused on /v2 (DENIED), naming the quota", async () => {
    // As the other account, whose images-per-repository value (10) leaves room for more images.
    const repo = 'race/r0';
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const put = (ref: string, body: Buffer) =>
      other.v2(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: asBody(body) });
    const names = (await other.ecr.send(new DescribeRepositoriesCommand({}))).repositories!.map((r) => r.repositoryName!);
    assert.ok(names.includes(repo), `the race test left ${repo}: ${names.join(', ')}`);
    const config = Buffer.from('{}');
    const EMPTY = 'application/vnd.oci.empty.v1+json';
    const emptyConfig = { mediaType: EMPTY, digest: sha256(config), size: config.length };
    const started = await other.v2(`/v2/${repo}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) });
    assert.equal(started.status, 201, started.body.toString());
    const subject = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: emptyConfig, layers: [] }));
    assert.equal((await put('subject', subject)).status, 201);
    const referrer = (n: number) => numberedManifest(config, n, { configMediaType: EMPTY, artifactType: 'application/vnd.example.sig', subject });
    const first = referrer(1);
    assert.equal((await put(sha256(first), first)).status, 201);
    const second = referrer(2);
    const res = await put(sha256(second), second);
    assert.equal(res.status, 403);
    assert.equal(errorCode(res), 'DENIED');
    assert.match(res.body.toString(), /referrersPerSubject/);
    const listed = await other.v2(`/v2/${repo}/referrers/${sha256(subject)}`);
    assert.deepEqual(
      (JSON.parse(listed.body.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest),
      [sha256(first)],
    );
  });
});
