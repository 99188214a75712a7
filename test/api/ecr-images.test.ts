/**
 * ECR's image and layer API through @aws-sdk/client-ecr against the real app, in process: a push and pull
 * through the API alone, images pushed on /v2 seen by the API, immutability across both doors,
 * ECR's delete semantics, resource tags and settings, and bad input answered with ECR's names.
 */
import {
  BatchCheckLayerAvailabilityCommand,
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  TagResourceCommand,
  UploadLayerPartCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { numberedManifest, pushBlob, pushManifest, request, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function manifestFor(config: Buffer, layers: Buffer[]): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
  });
}

describe('ECR image and layer API', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  /** The API push: check, initiate, upload parts, complete. */
  async function apiPushLayer(repo: string, data: Buffer, partSize: number): Promise<void> {
    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: repo }));
    for (let first = 0; first < data.length; first += partSize) {
      const part = data.subarray(first, first + partSize);
      const out = await ecr.send(
        new UploadLayerPartCommand({ repositoryName: repo, uploadId, partFirstByte: first, partLastByte: first + part.length - 1, layerPartBlob: part }),
      );
      assert.equal(out.lastByteReceived, first + part.length - 1);
    }
    const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName: repo, uploadId, layerDigests: [sha256(data)] }));
    assert.equal(done.layerDigest, sha256(data));
  }

  it('pushes and pulls an image through the API alone, byte-exact', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/app' }));
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(300_000);
    const check = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'api/app', layerDigests: [sha256(layer), 'bad'] }));
    assert.equal(check.layers?.[0]?.layerAvailability, 'UNAVAILABLE');
    assert.equal(check.failures?.[0]?.failureCode, 'InvalidLayerDigest');
    await apiPushLayer('api/app', config, 1000);
    await apiPushLayer('api/app', layer, 100_000);
    const manifest = manifestFor(config, [layer]);
    const put = await ecr.send(new PutImageCommand({ repositoryName: 'api/app', imageManifest: manifest, imageTag: 'v1' }));
    assert.equal(put.image?.imageId?.imageDigest, sha256(manifest));
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: 'api/app', imageManifest: manifest, imageTag: 'v1' })), {
      name: 'ImageAlreadyExistsException',
    });

    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'api/app', imageIds: [{ imageTag: 'v1' }, { imageTag: 'nope' }] }));
    assert.equal(got.images?.[0]?.imageManifest, manifest);
    assert.equal(got.failures?.[0]?.failureCode, 'ImageNotFound');
    const url = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'api/app', layerDigest: sha256(layer) }));
    const blob = await request(url.downloadUrl!);
    assert.deepEqual(blob.body, layer);
    await assert.rejects(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'api/app', layerDigest: sha256('x') })), {
      name: 'LayersNotFoundException',
    });
  });

  it('refuses bad layer parts and uploads with ECR exceptions', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/bad' }));
    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'api/bad' }));
    await assert.rejects(
      ecr.send(new UploadLayerPartCommand({ repositoryName: 'api/bad', uploadId, partFirstByte: 5, partLastByte: 7, layerPartBlob: Buffer.from('abc') })),
      (e: Error & { lastValidByteReceived?: number }) => {
        assert.equal(e.name, 'InvalidLayerPartException');
        assert.equal(e.lastValidByteReceived, -1);
        return true;
      },
    );
    await assert.rejects(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'api/bad', uploadId, layerDigests: [sha256('')] })), {
      name: 'EmptyUploadException',
    });
    await ecr.send(new UploadLayerPartCommand({ repositoryName: 'api/bad', uploadId, partFirstByte: 0, partLastByte: 2, layerPartBlob: Buffer.from('abc') }));
    await assert.rejects(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'api/bad', uploadId, layerDigests: [sha256('abd')] })), {
      name: 'InvalidLayerException',
    });
    await assert.rejects(
      ecr.send(
        new UploadLayerPartCommand({
          repositoryName: 'api/bad',
          uploadId: '00000000-0000-4000-8000-000000000000',
          partFirstByte: 0,
          partLastByte: 0,
          layerPartBlob: Buffer.from('a'),
        }),
      ),
      { name: 'UploadNotFoundException' },
    );
    await assert.rejects(ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'api/none' })), { name: 'RepositoryNotFoundException' });
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: 'api/bad', imageManifest: manifestFor(Buffer.from('c'), []) })), {
      name: 'LayersNotFoundException',
    });
    await assert.rejects(
      ecr.send(
        new PutImageCommand({
          repositoryName: 'api/bad',
          imageManifest: '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}',
          imageDigest: sha256('x'),
        }),
      ),
      { name: 'ImageDigestDoesNotMatchException' },
    );
  });

  it("pushes only into an existing repository: creation on push is /v2's alone, as on ECR", async () => {
    const missing = 'api/never-created';
    const config = Buffer.from('{"never":1}');
    const notFound = { name: 'RepositoryNotFoundException' };
    await assert.rejects(ecr.send(new InitiateLayerUploadCommand({ repositoryName: missing })), notFound);
    const uploadId = '00000000-0000-4000-8000-000000000000';
    await assert.rejects(
      ecr.send(new UploadLayerPartCommand({ repositoryName: missing, uploadId, partFirstByte: 0, partLastByte: 0, layerPartBlob: Buffer.from('a') })),
      notFound,
    );
    await assert.rejects(ecr.send(new CompleteLayerUploadCommand({ repositoryName: missing, uploadId, layerDigests: [sha256('a')] })), notFound);
    // An empty index references nothing, so nothing but the repository could be missing.
    const emptyIndex = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: missing, imageManifest: emptyIndex, imageTag: 'v1' })), notFound);
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: missing, imageManifest: emptyIndex })), notFound);
    await assert.rejects(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [missing] })), notFound, 'nothing created it');
    // /v2 still creates on push (createOnPush is on by default).
    await pushBlob(berth.url, missing, config);
    assert.equal((await pushManifest(berth.url, missing, 'v1', Buffer.from(manifestFor(config, [])), OCI_MANIFEST)).status, 201);
    assert.equal((await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [missing] }))).repositories?.length, 1);
  });

  it('refuses a layer the repository already has (LayerAlreadyExists) and cancels that upload', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/again' }));
    const layer = Buffer.from('a layer pushed twice');
    await apiPushLayer('api/again', layer, 1000);
    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'api/again' }));
    await ecr.send(
      new UploadLayerPartCommand({ repositoryName: 'api/again', uploadId, partFirstByte: 0, partLastByte: layer.length - 1, layerPartBlob: layer }),
    );
    await assert.rejects(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'api/again', uploadId, layerDigests: [sha256(layer)] })), {
      name: 'LayerAlreadyExistsException',
    });
    await assert.rejects(
      ecr.send(
        new UploadLayerPartCommand({
          repositoryName: 'api/again',
          uploadId,
          partFirstByte: layer.length,
          partLastByte: layer.length,
          layerPartBlob: Buffer.from('x'),
        }),
      ),
      { name: 'UploadNotFoundException' },
      'the refused upload was cancelled',
    );
    const check = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'api/again', layerDigests: [sha256(layer)] }));
    assert.deepEqual(check.layers, [{ layerDigest: sha256(layer), layerAvailability: 'AVAILABLE', layerSize: layer.length }]);
  });

  it('BatchDeleteImage: resolution failures first, then refused deletes; a tag named twice is deleted once', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/batch' }));
    const config = Buffer.from('{"batch":1}');
    await pushBlob(berth.url, 'api/batch', config);
    const m = manifestFor(config, []);
    await ecr.send(new PutImageCommand({ repositoryName: 'api/batch', imageManifest: m, imageTag: 'a' }));
    await ecr.send(new PutImageCommand({ repositoryName: 'api/batch', imageManifest: m, imageTag: 'b' }));
    const out = await ecr.send(
      new BatchDeleteImageCommand({
        repositoryName: 'api/batch',
        imageIds: [{ imageTag: 'a' }, { imageTag: 'a' }, { imageTag: 'nope' }, { imageDigest: 'bad' }, { imageTag: 'b', imageDigest: sha256('other') }],
      }),
    );
    assert.deepEqual(out.imageIds, [{ imageDigest: sha256(m), imageTag: 'a' }]);
    assert.deepEqual(
      out.failures?.map((f) => [f.imageId?.imageTag ?? f.imageId?.imageDigest, f.failureCode]),
      [
        ['nope', 'ImageNotFound'],
        ['bad', 'InvalidImageDigest'],
        ['b', 'ImageTagDoesNotMatchDigest'],
        ['a', 'ImageNotFound'],
      ],
    );
    const left = await ecr.send(new ListImagesCommand({ repositoryName: 'api/batch' }));
    assert.deepEqual(left.imageIds, [{ imageDigest: sha256(m), imageTag: 'b' }], 'the image keeps its other tag');
  });

  it('sees images pushed on /v2 with tags and sizes, paginated', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/list' }));
    const digests: string[] = [];
    for (let i = 0; i < 3; i++) {
      const config = Buffer.from(`{"i":${i}}`);
      const layer = randomBytes(1000 + i);
      await pushBlob(berth.url, 'api/list', config);
      await pushBlob(berth.url, 'api/list', layer);
      const m = Buffer.from(manifestFor(config, [layer]));
      assert.equal((await pushManifest(berth.url, 'api/list', i === 2 ? sha256(m) : `t${i}`, m, OCI_MANIFEST)).status, 201);
      digests.push(sha256(m));
    }
    const first = await ecr.send(new ListImagesCommand({ repositoryName: 'api/list', maxResults: 2 }));
    assert.equal(first.imageIds?.length, 2);
    const second = await ecr.send(new ListImagesCommand({ repositoryName: 'api/list', maxResults: 2, nextToken: first.nextToken! }));
    assert.equal(second.nextToken, undefined);
    const untagged = await ecr.send(new ListImagesCommand({ repositoryName: 'api/list', filter: { tagStatus: 'UNTAGGED' } }));
    assert.deepEqual(untagged.imageIds, [{ imageDigest: digests[2] }]);
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'api/list', imageIds: [{ imageTag: 't1' }] }));
    const d = described.imageDetails![0]!;
    assert.deepEqual(d.imageTags, ['t1']);
    assert.equal(d.imageSizeInBytes, `{"i":1}`.length + 1001);
    assert.ok(d.imagePushedAt instanceof Date);
    await assert.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'api/list', imageIds: [{ imageTag: 'gone' }] })), {
      name: 'ImageNotFoundException',
    });
  });

  it('pages of more images than a slice the server builds at once: every image once, in order, whatever the page size', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/many' }));
    const config = Buffer.from('{"many":true}');
    const layer = randomBytes(2000);
    await pushBlob(berth.url, 'api/many', config);
    await pushBlob(berth.url, 'api/many', layer);
    // 230 images: every third untagged, every fifth with two tags (the server reads 100 at a time).
    const want = new Map<string, string[]>();
    for (let i = 0; i < 230; i++) {
      const manifest = numberedManifest(config, i, { layers: [layer] }).toString();
      const tags = i % 3 === 0 ? [] : i % 5 === 0 ? [`a${i}`, `b${i}`] : [`a${i}`];
      await ecr.send(new PutImageCommand({ repositoryName: 'api/many', imageManifest: manifest, ...(tags[0] !== undefined && { imageTag: tags[0] }) }));
      if (tags[1] !== undefined) await ecr.send(new PutImageCommand({ repositoryName: 'api/many', imageManifest: manifest, imageTag: tags[1] }));
      want.set(sha256(manifest), tags);
    }
    const digests = [...want.keys()].sort();
    const walk = async <T>(send: (nextToken?: string) => Promise<{ items: T[]; nextToken?: string }>) => {
      const pages: T[][] = [];
      let token: string | undefined;
      do {
        const page = await send(token);
        pages.push(page.items);
        token = page.nextToken;
      } while (token !== undefined);
      return pages;
    };
    const describePages = (maxResults: number, tagStatus: 'ANY' | 'TAGGED' = 'ANY') =>
      walk(async (nextToken) => {
        const out = await ecr.send(
          new DescribeImagesCommand({ repositoryName: 'api/many', maxResults, filter: { tagStatus }, ...(nextToken && { nextToken }) }),
        );
        return { items: out.imageDetails!, ...(out.nextToken !== undefined && { nextToken: out.nextToken }) };
      });
    const listPages = (maxResults: number) =>
      walk(async (nextToken) => {
        const out = await ecr.send(new ListImagesCommand({ repositoryName: 'api/many', maxResults, ...(nextToken && { nextToken }) }));
        return { items: out.imageIds!, ...(out.nextToken !== undefined && { nextToken: out.nextToken }) };
      });

    const whole = await describePages(1000);
    assert.equal(whole.length, 1);
    assert.deepEqual(
      whole[0]!.map((d) => d.imageDigest),
      digests,
    );
    for (const d of whole[0]!) {
      assert.deepEqual(d.imageTags ?? [], want.get(d.imageDigest!));
      assert.equal(d.imageSizeInBytes, config.length + layer.length);
      assert.equal(d.repositoryName, 'api/many');
    }
    const paged = await describePages(110);
    assert.deepEqual(
      paged.map((p) => p.length),
      [110, 110, 10],
    );
    assert.deepEqual(paged.flat(), whole[0]);
    const exact = await describePages(115);
    assert.deepEqual(
      exact.map((p) => p.length),
      [115, 115],
      'no empty page after a page that ends with the last image',
    );
    const boundary = await describePages(130);
    assert.deepEqual(
      boundary.map((p) => p.length),
      [130, 100],
      'the last image ends a slice of the second page: no token, no empty page',
    );
    assert.deepEqual(boundary.flat(), whole[0]);
    const tagged = await describePages(150, 'TAGGED');
    assert.deepEqual(
      tagged.flat(),
      whole[0]!.filter((d) => d.imageTags !== undefined),
    );

    const ids = digests.flatMap((d) => (want.get(d)!.length === 0 ? [{ imageDigest: d }] : want.get(d)!.map((t) => ({ imageDigest: d, imageTag: t }))));
    const listed = await listPages(1000);
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0], ids);
    const listedPaged = await listPages(101);
    assert.deepEqual(
      listedPaged.map((p) => new Set(p.map((i) => i.imageDigest)).size),
      [101, 101, 28],
    );
    assert.deepEqual(listedPaged.flat(), ids);
  });

  it('enforces tag immutability on both APIs', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/immutable', imageTagMutability: 'IMMUTABLE' }));
    const images = [];
    for (let i = 0; i < 2; i++) {
      const config = Buffer.from(`{"n":${i}}`);
      await pushBlob(berth.url, 'api/immutable', config);
      images.push(manifestFor(config, []));
    }
    await ecr.send(new PutImageCommand({ repositoryName: 'api/immutable', imageManifest: images[0]!, imageTag: 'v1' }));
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: 'api/immutable', imageManifest: images[1]!, imageTag: 'v1' })), {
      name: 'ImageTagAlreadyExistsException',
    });
    const viaV2 = await pushManifest(berth.url, 'api/immutable', 'v1', Buffer.from(images[1]!), OCI_MANIFEST);
    assert.equal(viaV2.status, 400);
    assert.match(viaV2.body.toString(), /immutable/);
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'api/immutable', imageTagMutability: 'MUTABLE' }));
    assert.equal((await pushManifest(berth.url, 'api/immutable', 'v1', Buffer.from(images[1]!), OCI_MANIFEST)).status, 201);
    await assert.rejects(ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'api/immutable', imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' })), {
      name: 'InvalidParameterException',
    });
  });

  it('deletes by tag and digest with per-item failures, and tags the repository', async () => {
    const repo = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'api/delete', tags: [{ Key: 'team', Value: 'a' }] }));
    const config = Buffer.from('{"d":1}');
    await pushBlob(berth.url, 'api/delete', config);
    const m = manifestFor(config, []);
    await ecr.send(new PutImageCommand({ repositoryName: 'api/delete', imageManifest: m, imageTag: 'a' }));
    await ecr.send(new PutImageCommand({ repositoryName: 'api/delete', imageManifest: m, imageTag: 'b' }));
    const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'api/delete', imageIds: [{ imageTag: 'a' }, { imageTag: 'zzz' }] }));
    assert.deepEqual(out.imageIds, [{ imageDigest: sha256(m), imageTag: 'a' }]);
    assert.equal(out.failures?.[0]?.failureCode, 'ImageNotFound');
    await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'api/delete', imageIds: [{ imageDigest: sha256(m) }] }));
    assert.deepEqual((await ecr.send(new ListImagesCommand({ repositoryName: 'api/delete' }))).imageIds, []);

    const arn = repo.repository!.repositoryArn!;
    await ecr.send(new TagResourceCommand({ resourceArn: arn, tags: [{ Key: 'env', Value: 'prod' }] }));
    const tags = await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    assert.deepEqual(tags.tags, [
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'a' },
    ]);
    await assert.rejects(ecr.send(new ListTagsForResourceCommand({ resourceArn: 'arn:nope' })), { name: 'InvalidParameterException' });
    const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await assert.rejects(ecr.send(new TagResourceCommand({ resourceArn: arn, tags: many })), { name: 'TooManyTagsException' });
  });
});
