/** PutImageTagMutability, PutImageScanningConfiguration, TagResource, UntagResource, ListTagsForResource. */
import { z } from 'zod';
import { parseRepositoryArn } from '../../../core/arns.js';
import { Codes } from '../../../core/errors.js';
import { TAG_MUTABILITIES } from '../../../core/repository-settings.js';
import { accountOf } from '../../../core/registry-key.js';
import { repoScope, type EcrAction, type EcrCall } from '../context.js';
import { mutabilityFilters, parseInput, registryId, repositoryName, resourceTags } from '../input.js';
import { EcrError } from '../protocol.js';

const mutabilityInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    imageTagMutability: z.enum(TAG_MUTABILITIES),
    imageTagMutabilityExclusionFilters: mutabilityFilters.optional(),
  })
  .strict();

export const PutImageTagMutability: EcrAction = async (call) => {
  const input = parseInput(mutabilityInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const settings = await call.registry.repositories.setTagMutability(scope, input.imageTagMutability, input.imageTagMutabilityExclusionFilters);
  return {
    registryId: accountOf(scope.registryKey),
    repositoryName: scope.name,
    imageTagMutability: settings.imageTagMutability,
    ...(settings.imageTagMutabilityExclusionFilters && { imageTagMutabilityExclusionFilters: settings.imageTagMutabilityExclusionFilters }),
  };
};

const scanningInput = z
  .object({ registryId: registryId.optional(), repositoryName, imageScanningConfiguration: z.object({ scanOnPush: z.boolean() }).strict() })
  .strict();

export const PutImageScanningConfiguration: EcrAction = async (call) => {
  const input = parseInput(scanningInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const settings = await call.registry.repositories.setScanOnPush(scope, input.imageScanningConfiguration.scanOnPush);
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, imageScanningConfiguration: { scanOnPush: settings.scanOnPush } };
};

/** The repository an ARN names; only repositories are taggable in ECR. */
function repositoryOfArn(call: EcrCall, arn: string) {
  const m = parseRepositoryArn(arn);
  if (!m || m.region !== call.region) {
    throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'");
  }
  return repoScope(call, parseInput(repositoryName, m.name), m.accountId);
}

const resourceArn = z.string().min(1).max(2048);

export const TagResource: EcrAction = async (call) => {
  const input = parseInput(z.object({ resourceArn, tags: resourceTags }).strict(), call.body);
  await call.registry.repositories.tagResource(repositoryOfArn(call, input.resourceArn), input.tags);
  return {};
};

export const UntagResource: EcrAction = async (call) => {
  const input = parseInput(z.object({ resourceArn, tagKeys: z.array(z.string().min(1).max(128)).max(200) }).strict(), call.body);
  await call.registry.repositories.untagResource(repositoryOfArn(call, input.resourceArn), input.tagKeys);
  return {};
};

export const ListTagsForResource: EcrAction = async (call) => {
  const input = parseInput(z.object({ resourceArn }).strict(), call.body);
  return { tags: await call.registry.repositories.resourceTags(repositoryOfArn(call, input.resourceArn)) };
};
