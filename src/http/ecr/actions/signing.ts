/**
 * Managed signing: Put/Get/DeleteSigningConfiguration (the registry's rules) and
 * DescribeImageSigningStatus (an image's status per signing profile). The rules live in
 * registry/signing.ts; the signing is signer/signing-job.ts's.
 */
import { z } from 'zod';
import { accountOf } from '../../../core/registry-key.js';
import { addressedRegistry, repoScope, type EcrAction } from '../context.js';
import { imageId, modelPattern, parseInput, registryId, repositoryName } from '../input.js';

const signingConfiguration = z
  .object({
    rules: z
      .array(
        z
          .object({
            signingProfileArn: z
              .string()
              .max(200)
              .regex(modelPattern('^arn:aws(-[a-z]+)*:signer:[a-z0-9-]+:[0-9]{12}:\\/signing-profiles\\/[a-zA-Z0-9_]{2,}$')),
            repositoryFilters: z
              .array(
                z
                  .object({
                    filter: z.string().min(1).max(256).regex(modelPattern('^(?:[a-z0-9*]+(?:[._-][a-z0-9*]+)*/)*[a-z0-9*]+(?:[._-][a-z0-9*]+)*$')),
                    filterType: z.enum(['WILDCARD_MATCH']),
                  })
                  .strict(),
              )
              .min(1)
              .max(100)
              .optional(),
          })
          .strict(),
      )
      .min(0)
      .max(10),
  })
  .strict();

const putInput = z.object({ signingConfiguration }).strict();

export const PutSigningConfiguration: EcrAction = async (call) => {
  const input = parseInput(putInput, call.body);
  return { signingConfiguration: await call.registry.signing.put(addressedRegistry(call), call.region, input.signingConfiguration) };
};

export const GetSigningConfiguration: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  return { registryId: call.accountId, signingConfiguration: await call.registry.signing.required(addressedRegistry(call)) };
};

export const DeleteSigningConfiguration: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  return { registryId: call.accountId, signingConfiguration: await call.registry.signing.delete(addressedRegistry(call)) };
};

const describeInput = z.object({ repositoryName, imageId, registryId: registryId.optional() }).strict();

export const DescribeImageSigningStatus: EcrAction = async (call) => {
  const { repositoryName: name, imageId: id, registryId: rid } = parseInput(describeInput, call.body);
  const scope = repoScope(call, name, rid);
  const { digest, statuses } = await call.registry.signing.describe(scope, id);
  return {
    repositoryName: scope.name,
    imageId: { imageDigest: digest, ...(id.imageTag !== undefined && { imageTag: id.imageTag }) },
    registryId: accountOf(scope.registryKey),
    signingStatuses: statuses,
  };
};
