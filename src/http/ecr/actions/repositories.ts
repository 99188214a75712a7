/** CreateRepository, DescribeRepositories, DeleteRepository. */
import { z } from 'zod';
import { Codes } from '../../../core/errors.js';
import { ENCRYPTION_TYPES, TAG_MUTABILITIES } from '../../../core/repository-settings.js';
import type { RepositoryRecord } from '../../../metadata/types.js';
import { addressedRegistry, repoScope, type EcrAction, type EcrCall } from '../context.js';
import { decodeToken, encodeToken, maxResults, mutabilityFilters, nextToken, parseInput, registryId, repositoryName, resourceTags } from '../input.js';
import { EcrError } from '../protocol.js';
import { repositoryShape } from '../shapes.js';
import { slicedPage } from '../sliced-page.js';

const createInput = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    tags: resourceTags.optional(),
    imageTagMutability: z.enum(TAG_MUTABILITIES).optional(),
    imageTagMutabilityExclusionFilters: mutabilityFilters.optional(),
    imageScanningConfiguration: z.object({ scanOnPush: z.boolean().optional() }).strict().optional(),
    encryptionConfiguration: z
      .object({ encryptionType: z.enum(ENCRYPTION_TYPES), kmsKey: z.string().min(1).max(2048).optional() })
      .strict()
      .optional(),
  })
  .strict();

export const CreateRepository: EcrAction = async (call) => {
  const input = parseInput(createInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const repo = await call.registry.repositories.create(scope, {
    settings: {
      ...(input.imageTagMutability && { imageTagMutability: input.imageTagMutability }),
      ...(input.imageTagMutabilityExclusionFilters && { imageTagMutabilityExclusionFilters: input.imageTagMutabilityExclusionFilters }),
      ...(input.imageScanningConfiguration?.scanOnPush !== undefined && { scanOnPush: input.imageScanningConfiguration.scanOnPush }),
      ...(input.encryptionConfiguration && { encryptionType: input.encryptionConfiguration.encryptionType }),
      ...(input.encryptionConfiguration?.kmsKey !== undefined && { kmsKey: input.encryptionConfiguration.kmsKey }),
    },
    tags: input.tags ?? [],
    ...(call.mayUseKey && { mayUseKey: call.mayUseKey(scope.registryKey) }),
  });
  return { repository: repositoryShape(repo, call.region, call.v2Location) };
};

const describeInput = z
  .object({
    registryId: registryId.optional(),
    repositoryNames: z.array(repositoryName).min(1).max(100).optional(),
    nextToken: nextToken.optional(),
    maxResults: maxResults().optional(),
  })
  .strict();

export const DescribeRepositories: EcrAction = async (call) =>
  describeRepositories(call, parseInput(describeInput, call.body), (r) => repositoryShape(r, call.region, call.v2Location));

/** DescribeRepositories for ECR and ECR Public, which differ only in names and shapes. */
export async function describeRepositories(
  call: EcrCall,
  input: { registryId?: string; repositoryNames?: string[]; nextToken?: string; maxResults?: number },
  shape: (repo: RepositoryRecord) => Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if (input.repositoryNames) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw new EcrError(Codes.InvalidParameter, 'repositoryNames cannot be used together with nextToken or maxResults');
    }
    // One unknown name fails the whole call (Terraform relies on it).
    const repos = [];
    for (const name of input.repositoryNames) repos.push(await call.registry.repositories.get(repoScope(call, name, input.registryId)));
    return { repositories: repos.map(shape) };
  }
  const registry = addressedRegistry(call, input.registryId);
  const { list, next } = await slicedPage(
    input.maxResults ?? 100,
    decodeToken('DescribeRepositories', input.nextToken) || undefined,
    (page) => call.registry.repositories.list(registry, page),
    (r) => r.name,
    (repos) => repos.map(shape),
  );
  return { repositories: list, ...(next !== undefined && { nextToken: encodeToken('DescribeRepositories', next) }) };
}

const deleteInput = z.object({ registryId: registryId.optional(), repositoryName, force: z.boolean().optional() }).strict();

export const DeleteRepository: EcrAction = async (call) => {
  const input = parseInput(deleteInput, call.body);
  const repo = await call.registry.repositories.delete(repoScope(call, input.repositoryName, input.registryId), input.force ?? false);
  return { repository: repositoryShape(repo, call.region, call.v2Location) };
};
