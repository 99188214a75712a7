/** DescribeImageReplicationStatus: an image's replication status at each destination. */
import { z } from 'zod';
import { accountOf } from '../../../core/registry-key.js';
import { repoScope, type EcrAction } from '../context.js';
import { imageId, parseInput, registryId, repositoryName } from '../input.js';

const input = z.object({ registryId: registryId.optional(), repositoryName, imageId }).strict();

export const DescribeImageReplicationStatus: EcrAction = async (call) => {
  const { repositoryName: name, imageId: id, registryId: rid } = parseInput(input, call.body);
  const scope = repoScope(call, name, rid);
  const { digest, statuses } = await call.registry.replication.describe(scope, id);
  return {
    repositoryName: scope.name,
    imageId: { imageDigest: digest, ...(id.imageTag !== undefined && { imageTag: id.imageTag }) },
    replicationStatuses: statuses,
    registryId: accountOf(scope.registryKey),
  };
};
