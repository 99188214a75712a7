/**
 * The layer API: BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
 * CompleteLayerUpload, GetDownloadUrlForLayer. Parts go through the same upload sessions as /v2
 * chunked uploads, so digests are verified the same way.
 */
import { z } from 'zod';
import { isDigest } from '../../../core/digest.js';
import { Codes, isRegistryError } from '../../../core/errors.js';
import { accountOf } from '../../../core/registry-key.js';
import { repoScope, type EcrAction } from '../context.js';
import { blob, layerDigest, parseInput, parsedAction, registryId, repositoryName, uploadId } from '../input.js';
import { EcrError } from '../protocol.js';

/** ECR's model allows 20 MiB parts; the service quota (maxLayerPartBytes, 10 MiB by default) is checked by the core. */
const MAX_PART_BYTES = 20 * 1024 * 1024;
/** BatchCheckLayerAvailability's digests: any text up to 1000 (a malformed one is a failure entry, as in ECR). */
const digestList = z.array(z.string().max(1000)).min(1).max(100);

const checkInput = z.object({ registryId: registryId.optional(), repositoryName, layerDigests: digestList }).strict();

export const BatchCheckLayerAvailability = parsedAction(checkInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const layers = [];
  const failures = [];
  for (const l of await call.registry.layers.availability(scope, input.layerDigests)) {
    if (l.kind === 'invalid') failures.push({ layerDigest: l.digest, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid layer digest' });
    else
      layers.push(
        l.kind === 'available'
          ? { layerDigest: l.digest, layerAvailability: 'AVAILABLE', layerSize: l.size }
          : { layerDigest: l.digest, layerAvailability: l.kind === 'archived' ? 'ARCHIVED' : 'UNAVAILABLE' },
      );
  }
  return { layers, failures };
});

const initiateInput = z.object({ registryId: registryId.optional(), repositoryName }).strict();

export const InitiateLayerUpload = parsedAction(initiateInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const { id } = await call.registry.layers.initiate(scope);
  return { uploadId: id, partSize: await call.registry.quotas.value(scope.registryKey, 'maxLayerPartBytes') };
});

const partInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    uploadId,
    partFirstByte: z.number().int().min(0),
    partLastByte: z.number().int().min(0),
    layerPartBlob: blob(MAX_PART_BYTES),
  })
  .strict();

export const UploadLayerPart = parsedAction(partInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const part = input.layerPartBlob;
  const invalidPart = async (message: string) => {
    const status = await call.registry.uploads.status(scope, input.uploadId);
    return new EcrError(Codes.BlobUploadInvalid, message, {
      registryId: accountOf(scope.registryKey),
      repositoryName: scope.name,
      uploadId: input.uploadId,
      lastValidByteReceived: status.size - 1,
    });
  };
  if (input.partLastByte - input.partFirstByte + 1 !== part.length) {
    throw await invalidPart('The part size does not match partFirstByte and partLastByte');
  }
  try {
    const status = await call.registry.layers.part(scope, input.uploadId, part, input.partFirstByte);
    return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, uploadId: input.uploadId, lastByteReceived: status.size - 1 };
  } catch (e) {
    if (isRegistryError(e) && e.code === Codes.RangeInvalid) throw await invalidPart('The part does not start after the last byte received');
    throw e;
  }
});

const completeInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    uploadId,
    // The model allows 100; an upload is one layer, so Berth takes exactly one (a rule of its own).
    layerDigests: z
      .array(layerDigest)
      .min(1)
      .max(100)
      .refine((l) => l.length === 1, { message: 'exactly one layer digest' }),
  })
  .strict();

export const CompleteLayerUpload = parsedAction(completeInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const digest = input.layerDigests[0]!;
  if (!isDigest(digest)) throw new EcrError(Codes.DigestInvalid, `Invalid layer digest ${digest.slice(0, 200)}`);
  await call.registry.layers.complete(scope, input.uploadId, digest);
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, uploadId: input.uploadId, layerDigest: digest };
});

const downloadInput = z.object({ registryId: registryId.optional(), repositoryName, layerDigest }).strict();

export const GetDownloadUrlForLayer: EcrAction = async (call) => {
  const input = parseInput(downloadInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  if (!isDigest(input.layerDigest))
    throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'layerDigest' failed to satisfy constraint: 'invalid digest'");
  try {
    await call.registry.blobs.stat(scope, input.layerDigest);
  } catch (e) {
    // A layer the pull-through cache lacks is fetched now; the URL then reads it as it arrives.
    const ptc = call.pullThroughCache;
    if (!ptc || !isRegistryError(e) || (e.code !== Codes.BlobUnknown && e.code !== Codes.NameUnknown)) throw e;
    const pulled = await ptc.cache.blob(scope, input.layerDigest, ptc.access(scope));
    if (!pulled) throw e;
    if (pulled.kind === 'streaming') pulled.body.destroy();
  }
  // As ECR does: a presigned URL to the bytes when the store has one; else this registry's /v2 URL (needs the login token).
  const at = call.v2Location(accountOf(scope.registryKey));
  const downloadUrl =
    (await call.registry.blobs.presignedUrl(scope, input.layerDigest)) ?? `http://${at.host}/v2/${at.prefix}${scope.name}/blobs/${input.layerDigest}`;
  return { downloadUrl, layerDigest: input.layerDigest };
};
