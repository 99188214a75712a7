/**
 * ECR Public (`SpencerFrontendService`, signing name `ecr-public`): the same JSON protocol and
 * registry core as ECR, addressing each account's public registry. Operations whose shapes are
 * ECR's are ECR's own actions; the rest are here.
 */
import type { IncomingMessage } from 'node:http';
import { PUBLIC_REGION } from '../../core/arns.js';
import { BatchDeleteImage, DescribeImages, PutImage } from '../ecr/actions/images.js';
import { BatchCheckLayerAvailability, CompleteLayerUpload, InitiateLayerUpload, UploadLayerPart } from '../ecr/actions/layers.js';
import { DeleteRepositoryPolicy, GetRepositoryPolicy, SetRepositoryPolicy } from '../ecr/actions/policies.js';
import { ListTagsForResource, TagResource, UntagResource } from '../ecr/actions/repository-settings.js';
import { isJsonApiRequest, type JsonApi } from '../ecr/router.js';
import {
  DescribeRegistries,
  GetAuthorizationToken,
  GetRegistryCatalogData,
  GetRepositoryCatalogData,
  PutRegistryCatalogData,
  PutRepositoryCatalogData,
} from './catalog.js';
import { publicAction } from './input.js';
import { CreateRepository, DeleteRepository, DescribeImageTags, DescribeRepositories } from './repositories.js';

export const ECR_PUBLIC_TARGET_PREFIX = 'SpencerFrontendService.';

export const ECR_PUBLIC_API: JsonApi = {
  targetPrefix: ECR_PUBLIC_TARGET_PREFIX,
  service: 'ecr-public',
  region: PUBLIC_REGION,
  // ECR Public's API has one endpoint, in us-east-1, whatever region serves its images.
  signingRegion: 'us-east-1',
  registryLevel: new Set(['GetAuthorizationToken', 'DescribeRegistries', 'GetRegistryCatalogData', 'PutRegistryCatalogData']),
  actions: {
    CreateRepository,
    DescribeRepositories,
    DeleteRepository,
    DescribeImageTags,
    // ECR's actions, over ECR Public's model of their input.
    DescribeImages: publicAction(DescribeImages, { without: ['filter'] }),
    PutImage: publicAction(PutImage, { alias: true }),
    BatchDeleteImage: publicAction(BatchDeleteImage, { alias: true }),
    BatchCheckLayerAvailability: publicAction(BatchCheckLayerAvailability, { alias: true }),
    InitiateLayerUpload: publicAction(InitiateLayerUpload, { alias: true }),
    UploadLayerPart: publicAction(UploadLayerPart, { alias: true }),
    CompleteLayerUpload: publicAction(CompleteLayerUpload, { alias: true }),
    SetRepositoryPolicy: publicAction(SetRepositoryPolicy),
    GetRepositoryPolicy: publicAction(GetRepositoryPolicy),
    DeleteRepositoryPolicy: publicAction(DeleteRepositoryPolicy),
    TagResource,
    UntagResource,
    ListTagsForResource,
    DescribeRegistries,
    GetRegistryCatalogData,
    PutRegistryCatalogData,
    GetRepositoryCatalogData,
    PutRepositoryCatalogData,
    GetAuthorizationToken,
  },
};

export function isEcrPublicRequest(req: IncomingMessage): boolean {
  return isJsonApiRequest(req, ECR_PUBLIC_TARGET_PREFIX);
}
