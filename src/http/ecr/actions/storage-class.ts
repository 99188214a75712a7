/** UpdateImageStorageClass: archive an ACTIVE image, or restore an ARCHIVED one (registry/storage-classes.ts). */
import { z } from 'zod';
import { accountOf } from '../../../core/registry-key.js';
import { repoScope, type EcrAction } from '../context.js';
import { imageId, parseInput, registryId, repositoryName } from '../input.js';

const updateInput = z.object({ registryId: registryId.optional(), repositoryName, imageId, targetStorageClass: z.enum(['STANDARD', 'ARCHIVE']) }).strict();

export const UpdateImageStorageClass: EcrAction = async (call) => {
  const input = parseInput(updateInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const { imageId: id, imageStatus } = await call.registry.storageClasses.update(scope, input.imageId, input.targetStorageClass);
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, imageId: id, imageStatus };
};
