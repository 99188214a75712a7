/** PutImage, BatchGetImage, ListImages, DescribeImages, BatchDeleteImage, ListImageReferrers. */
import { z } from 'zod';
import { isDigest, type Digest } from '../../../core/digest.js';
import { Codes, isRegistryError, RegistryError } from '../../../core/errors.js';
import { isTag, type Reference } from '../../../core/names.js';
import type { ImportAccess, PullThroughCache, PulledManifest } from '../../../pullthrough/cache.js';
import type { PullOptions } from '../../../registry/manifests.js';
import { pullerArn } from '../../puller.js';
import type { RepoScope } from '../../../registry/context.js';
import { accountOf, type RegistryKey } from '../../../core/registry-key.js';
import { repoScope, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, imageIds, maxResults, nextToken, parseInput, parsedAction, registryId, repositoryName, tagStatusFilter } from '../input.js';
import { EcrError, heldAnswer } from '../protocol.js';
import { holdBytes, holdBytesNow } from '../../download-hold.js';
import { imageDetailShape } from '../shapes.js';
import { slicedPage } from '../sliced-page.js';
import { scanSummaryShape } from './scans.js';

const MAX_MANIFEST_CHARS = 4 * 1024 * 1024;
function imageShape(
  name: string,
  registry: RegistryKey,
  id: { imageDigest?: string; imageTag?: string },
  manifest: { digest: string; payload: Buffer; mediaType: string },
) {
  return {
    registryId: accountOf(registry),
    repositoryName: name,
    imageId: { imageDigest: manifest.digest, ...(id.imageTag !== undefined && { imageTag: id.imageTag }) },
    imageManifest: manifest.payload.toString('utf8'),
    imageManifestMediaType: manifest.mediaType,
  };
}

const putInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    imageManifest: z.string().min(1).max(MAX_MANIFEST_CHARS),
    imageManifestMediaType: z.string().max(255).optional(),
    imageTag: z.string().min(1).max(300).optional(),
    imageDigest: z.string().max(1024).optional(),
  })
  .strict();

export const PutImage = parsedAction(putInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const { manifest } = await call.registry.images.put(scope, {
    manifest: input.imageManifest,
    ...(input.imageManifestMediaType !== undefined && { mediaType: input.imageManifestMediaType }),
    ...(input.imageTag !== undefined && { tag: input.imageTag }),
    ...(input.imageDigest !== undefined && { digest: input.imageDigest }),
    pushedBy: call.principal.arn,
    ...(call.maySign && { maySign: call.maySign }),
  });
  return { image: imageShape(scope.name, scope.registryKey, { ...(input.imageTag !== undefined && { imageTag: input.imageTag }) }, manifest) };
});

const batchGetInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    imageIds,
    acceptedMediaTypes: z.array(z.string().min(1).max(255)).min(1).max(100).optional(),
  })
  .strict();

/**
 * Its answer (up to 100 manifests, each up to 4 MiB, in one JSON) is held against the
 * manifests' download budget (manifestBufferBytes) until the client has taken it, as a manifest
 * GET is: past the budget the call waits (holding only the ids: the images are resolved again
 * once there is room) and is then refused with ThrottlingException, which the SDKs retry.
 */
export const BatchGetImage: EcrAction = async (call) => {
  const input = parseInput(batchGetInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const budget = call.registry.ctx.budgets?.manifests;
  let first: BatchGot | undefined = await batchGet(call, input, scope, true);
  if (!budget || first.bytes === 0) return first.answer;
  const now = holdBytesNow(budget, first.bytes);
  if (now) return heldAnswer(first.answer, now);
  const bytes = first.bytes;
  // Waiting holds only the ids, not the manifests.
  first = undefined;
  const granted = await holdBytes(budget, bytes).catch((e: unknown) => {
    throw isRegistryError(e) && e.code === Codes.TooManyRequests ? new RegistryError(Codes.Throttled, 'too many images in flight; retry shortly') : e;
  });
  try {
    // The pulls were recorded by the first read.
    return heldAnswer((await batchGet(call, input, scope, false)).answer, granted);
  } catch (e) {
    granted();
    throw e;
  }
};

type BatchGot = Awaited<ReturnType<typeof batchGet>>;

/**
 * What one answer's manifests may add up to. A small request can name one 4 MiB manifest 100
 * times: 400 MiB of manifests, and a quote-heavy one doubles as JSON past V8's longest string
 * (a 500). Refused before anything is recorded as pulled; 64 MiB is 16 of the largest
 * manifests, thousands of ordinary ones.
 */
const MAX_ANSWER_MANIFEST_BYTES = 64 * 1024 * 1024;

/** The answer, and its manifests' bytes (what holding it costs: the JSON is mostly them). */
async function batchGet(call: Parameters<EcrAction>[0], input: z.infer<typeof batchGetInput>, scope: RepoScope, pull: boolean) {
  const ptc = call.pullThroughCache;
  const pulledBy = pull ? pullerArn(call.principal) : undefined;
  const { found, failures } =
    ptc && (await ptc.cache.covers(scope))
      ? await pullThrough(ptc.cache, ptc.access(scope), scope, input.imageIds, { pull, ...(pulledBy !== undefined && { pulledBy }) })
      : await call.registry.images.resolve(scope, input.imageIds, { pull });
  const accepted = found.filter((f) => {
    if (!input.acceptedMediaTypes || input.acceptedMediaTypes.includes(f.manifest.mediaType)) return true;
    failures.push({ imageId: f.id, failureCode: 'UnsupportedImageType', failureReason: `Image manifest media type ${f.manifest.mediaType} is not accepted` });
    return false;
  });
  const bytes = accepted.reduce((n, f) => n + f.manifest.payload.length, 0);
  if (bytes > MAX_ANSWER_MANIFEST_BYTES) {
    throw new EcrError(
      Codes.QuotaExceeded,
      `The images requested hold ${bytes} bytes of manifests, more than one answer carries (${MAX_ANSWER_MANIFEST_BYTES}); request fewer images at a time`,
    );
  }
  const images = [];
  for (const f of accepted) {
    images.push(imageShape(scope.name, scope.registryKey, f.id, f.manifest));
    if (pull && f.manifest.repositoryId !== undefined) {
      call.registry.pulls.record(f.manifest.repositoryId, f.manifest.digest, {
        registryKey: scope.registryKey,
        ...(pulledBy !== undefined && { principalArn: pulledBy }),
      });
    }
  }
  return { answer: { images, failures }, bytes };
}

type ImageId = z.infer<typeof imageIds>[number];

/**
 * BatchGetImage in a repository a pull-through cache rule covers: each image through the cache
 * (fetched from upstream when absent, a tag checked again when due). An upstream's failure for
 * an image not cached fails the call (UnableToGetUpstreamImageException, naming the upstream).
 */
async function pullThrough(cache: PullThroughCache, access: ImportAccess, scope: RepoScope, ids: ImageId[], pull: PullOptions) {
  const found: Array<{ id: ImageId; manifest: PulledManifest & { repositoryId?: number } }> = [];
  const failures: Array<{ imageId: ImageId; failureCode: string; failureReason: string }> = [];
  for (const id of ids) {
    let ref: Reference;
    if (id.imageTag !== undefined) {
      if (!isTag(id.imageTag)) {
        failures.push({ imageId: id, failureCode: 'InvalidImageTag', failureReason: 'Invalid image tag' });
        continue;
      }
      ref = { kind: 'tag', tag: id.imageTag };
    } else if (id.imageDigest !== undefined && isDigest(id.imageDigest)) {
      ref = { kind: 'digest', digest: id.imageDigest };
    } else {
      failures.push({
        imageId: id,
        ...(id.imageDigest === undefined
          ? { failureCode: 'MissingDigestAndTag', failureReason: 'Missing image digest and tag' }
          : { failureCode: 'InvalidImageDigest', failureReason: 'Invalid image digest' }),
      });
      continue;
    }
    try {
      const manifest = await cache.manifest(scope, ref, access, pull);
      if (id.imageDigest !== undefined && manifest.digest !== id.imageDigest) {
        failures.push({ imageId: id, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid image digest and tag combination' });
      } else found.push({ id, manifest });
    } catch (e) {
      // An archived image in a cache repository is a failure of its own, as resolve() reports it.
      if (!isRegistryError(e) || (e.code !== Codes.ManifestUnknown && e.code !== Codes.ImageArchived)) throw e;
      failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: e.message });
    }
  }
  return { found, failures };
}

const listInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    nextToken: nextToken.optional(),
    maxResults: maxResults().optional(),
    filter: tagStatusFilter.optional(),
  })
  .strict();

export const ListImages: EcrAction = async (call) => {
  const input = parseInput(listInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const tagStatus = input.filter?.tagStatus ?? 'ANY';
  const imageStatus = input.filter?.imageStatus ?? 'ACTIVE';
  const after = decodeToken('ListImages', input.nextToken);
  const listing = await call.registry.images.listing(scope, tagStatus, imageStatus);
  const { list, next } = await slicedPage(
    input.maxResults ?? 100,
    after,
    (page) => listing.listIds(page),
    (i) => i.digest,
    (items) => items.flatMap((i) => (i.tags.length === 0 ? [{ imageDigest: i.digest }] : i.tags.map((t) => ({ imageDigest: i.digest, imageTag: t })))),
    true,
  );
  return { imageIds: list, ...(next !== undefined && { nextToken: encodeToken('ListImages', next) }) };
};

const describeInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    imageIds: imageIds.optional(),
    nextToken: nextToken.optional(),
    maxResults: maxResults().optional(),
    filter: tagStatusFilter.optional(),
  })
  .strict();

export const DescribeImages = parsedAction(describeInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const accountId = accountOf(scope.registryKey);
  if (input.imageIds) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw new EcrError(Codes.InvalidParameter, 'imageIds cannot be used together with nextToken or maxResults');
    }
    const images = await call.registry.images.requireAll(scope, input.imageIds);
    const { details, scans } = await (await call.registry.images.listing(scope)).described(images);
    return { imageDetails: details.map((d) => imageDetailShape(accountId, scope.name, d, scanSummaryShape(scans.get(d.digest)))) };
  }
  const tagStatus = input.filter?.tagStatus ?? 'ANY';
  const imageStatus = input.filter?.imageStatus ?? 'ACTIVE';
  const after = decodeToken('DescribeImages', input.nextToken);
  const listing = await call.registry.images.listing(scope, tagStatus, imageStatus);
  const { list, next } = await slicedPage(
    input.maxResults ?? 100,
    after,
    (page) => listing.list(page),
    (i) => i.digest,
    async (items) => {
      const { details, scans } = await listing.described(items, true);
      return details.map((d) => imageDetailShape(accountId, scope.name, d, scanSummaryShape(scans.get(d.digest))));
    },
    // imageDetailShape and scanSummaryShape write timestamps with wireTime and leave absent members out.
    true,
  );
  return { imageDetails: list, ...(next !== undefined && { nextToken: encodeToken('DescribeImages', next) }) };
});

const batchDeleteInput = z.object({ registryId: registryId.optional(), repositoryName, imageIds }).strict();

export const BatchDeleteImage = parsedAction(batchDeleteInput, async (call, input) => {
  const { deleted, failures } = await call.registry.images.batchDelete(repoScope(call, input.repositoryName, input.registryId), input.imageIds);
  return { imageIds: deleted, failures };
});

const referrersInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    subjectId: z.object({ imageDigest: z.string().min(1).max(1024) }).strict(),
    filter: z
      .object({
        artifactTypes: z.array(z.string().min(1).max(255)).min(1).max(5).optional(),
        artifactStatus: z.enum(['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY']).optional(),
      })
      .strict()
      .optional(),
    nextToken: nextToken.optional(),
    maxResults: maxResults(50).optional(),
  })
  .strict();

export const ListImageReferrers: EcrAction = async (call) => {
  const input = parseInput(referrersInput, call.body);
  if (!isDigest(input.subjectId.imageDigest)) {
    throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'invalid digest'");
  }
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const all = await call.registry.manifests.referrers(scope, input.subjectId.imageDigest as Digest);
  const types = input.filter?.artifactTypes;
  const matching = types ? all.filter((r) => r.artifactType !== undefined && types.includes(r.artifactType)) : all;
  const limit = input.maxResults ?? 20;
  const after = decodeToken('ListImageReferrers', input.nextToken);
  const rest = after === undefined ? matching : matching.filter((r) => r.digest > after);
  const page = rest.slice(0, limit);
  return {
    referrers: page.map((r) => ({
      digest: r.digest,
      mediaType: r.mediaType,
      artifactType: r.artifactType,
      size: r.size,
      annotations: r.annotations,
      artifactStatus: 'ACTIVE',
    })),
    ...(rest.length > limit && { nextToken: encodeToken('ListImageReferrers', page[page.length - 1]!.digest) }),
  };
};
