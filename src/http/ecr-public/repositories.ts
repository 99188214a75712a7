/** ECR Public's own repository operations: create with catalog data, describe, delete, DescribeImageTags. */
import { z } from 'zod';
import { repositoryArn } from '../../core/arns.js';
import type { RepositoryRecord } from '../../metadata/types.js';
import { accountOf } from '../../core/registry-key.js';
import { repoScope, type EcrAction, type EcrCall } from '../ecr/context.js';
import { decodeToken, encodeToken, maxResults, nextToken, parseInput, registryId, resourceTags } from '../ecr/input.js';
import { imageDetailShape } from '../ecr/shapes.js';
import { wireTime } from '../ecr/wire-json.js';
import { describeRepositories } from '../ecr/actions/repositories.js';
import { catalogDataShape } from './catalog.js';
import { catalogDataInput, publicRepositoryName } from './input.js';

/** The repository as ECR Public shows it: its image URI is `<host>/<alias>/<name>`, the alias being the account id. */
export function publicRepositoryShape(repo: RepositoryRecord, call: EcrCall): Record<string, unknown> {
  const accountId = accountOf(repo.registryKey);
  return {
    repositoryArn: repositoryArn(call.region, accountId, repo.name),
    registryId: accountId,
    repositoryName: repo.name,
    repositoryUri: `${call.registryHost}/${accountId}/${repo.name}`,
    createdAt: wireTime(repo.createdAt),
  };
}

const createInput = z.object({ repositoryName: publicRepositoryName, catalogData: catalogDataInput.optional(), tags: resourceTags.optional() }).strict();

export const CreateRepository: EcrAction = async (call) => {
  const input = parseInput(createInput, call.body);
  const scope = repoScope(call, input.repositoryName);
  const repo = await call.registry.repositories.create(scope, { tags: input.tags ?? [] });
  const data = input.catalogData ? await call.registry.catalogData.setRepository(scope, input.catalogData) : {};
  return { repository: publicRepositoryShape(repo, call), catalogData: catalogDataShape(call, scope, data) };
};

const describeInput = z
  .object({
    registryId: registryId.optional(),
    repositoryNames: z.array(publicRepositoryName).min(1).max(100).optional(),
    nextToken: nextToken.optional(),
    maxResults: maxResults().optional(),
  })
  .strict();

export const DescribeRepositories: EcrAction = async (call) =>
  describeRepositories(call, parseInput(describeInput, call.body), (r) => publicRepositoryShape(r, call));

const deleteInput = z.object({ registryId: registryId.optional(), repositoryName: publicRepositoryName, force: z.boolean().optional() }).strict();

export const DeleteRepository: EcrAction = async (call) => {
  const input = parseInput(deleteInput, call.body);
  const repo = await call.registry.repositories.delete(repoScope(call, input.repositoryName, input.registryId), input.force ?? false);
  return { repository: publicRepositoryShape(repo, call) };
};

const describeTagsInput = z
  .object({ registryId: registryId.optional(), repositoryName: publicRepositoryName, nextToken: nextToken.optional(), maxResults: maxResults().optional() })
  .strict();

/** Tags with the image each names; pages are pages of tagged images, every tag of an image on one page. */
export const DescribeImageTags: EcrAction = async (call) => {
  const input = parseInput(describeTagsInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const limit = input.maxResults ?? 100;
  const after = decodeToken('DescribeImageTags', input.nextToken);
  const page = await call.registry.images.list(scope, { ...(after && { after }), limit: limit + 1 }, 'TAGGED');
  const items = page.slice(0, limit);
  const details = await call.registry.images.details(scope, items);
  const imageTagDetails = details.flatMap((d) => {
    const {
      registryId: _r,
      repositoryName: _n,
      imageTags: _t,
      imageStatus: _s,
      ...imageDetail
    } = imageDetailShape(accountOf(scope.registryKey), scope.name, d);
    return d.tags.map((imageTag) => ({ imageTag, createdAt: d.pushedAt, imageDetail }));
  });
  return {
    imageTagDetails,
    ...(page.length > limit && { nextToken: encodeToken('DescribeImageTags', items[items.length - 1]!.digest) }),
  };
};
