/**
 * The ECR actions a /v2 request is, so one set of policies governs both APIs: reading a
 * manifest is BatchGetImage, reading a blob GetDownloadUrlForLayer, a blob HEAD
 * BatchCheckLayerAvailability, an upload the three layer-upload actions, a manifest push
 * PutImage, a delete BatchDeleteImage, listing tags ListImages, the catalog DescribeRepositories.
 */

export type OciOperation =
  | 'base'
  | 'catalog'
  | 'tags'
  | 'referrers'
  | 'manifest-read'
  | 'manifest-write'
  | 'manifest-delete'
  | 'blob-head'
  | 'blob-read'
  | 'blob-delete'
  | 'upload-start'
  | 'upload-write'
  | 'upload-complete'
  | 'upload-read'
  | 'upload-cancel';

export const OCI_ACTIONS: Record<OciOperation, string[]> = {
  base: [],
  catalog: ['ecr:DescribeRepositories'],
  tags: ['ecr:ListImages'],
  referrers: ['ecr:BatchGetImage'],
  'manifest-read': ['ecr:BatchGetImage'],
  'manifest-write': ['ecr:PutImage'],
  'manifest-delete': ['ecr:BatchDeleteImage'],
  'blob-head': ['ecr:BatchCheckLayerAvailability'],
  'blob-read': ['ecr:GetDownloadUrlForLayer'],
  'blob-delete': ['ecr:BatchDeleteImage'],
  'upload-start': ['ecr:InitiateLayerUpload'],
  'upload-write': ['ecr:UploadLayerPart'],
  'upload-complete': ['ecr:CompleteLayerUpload'],
  'upload-read': ['ecr:InitiateLayerUpload'],
  'upload-cancel': ['ecr:InitiateLayerUpload'],
};

/**
 * ECR operations whose resource is the registry ("*"), not a repository. DescribeRepositories is
 * not one (its resource type is the repository): by name it is each named repository's, without
 * names `repository/*`.
 */
export const REGISTRY_LEVEL_ACTIONS = new Set([
  'GetAuthorizationToken',
  'DescribeRegistry',
  'PutRegistryPolicy',
  'GetRegistryPolicy',
  'DeleteRegistryPolicy',
  'PutReplicationConfiguration',
  'PutRegistryScanningConfiguration',
  'GetRegistryScanningConfiguration',
  'PutAccountSetting',
  'GetAccountSetting',
  'CreateRepositoryCreationTemplate',
  'DescribeRepositoryCreationTemplates',
  'UpdateRepositoryCreationTemplate',
  'DeleteRepositoryCreationTemplate',
  'CreatePullThroughCacheRule',
  'DescribePullThroughCacheRules',
  'UpdatePullThroughCacheRule',
  'DeletePullThroughCacheRule',
  'ValidatePullThroughCacheRule',
]);

/**
 * The actions a /v2 upload request is beyond its operation's, by what it carries: a POST with
 * ?digest= (and no mount) sends the bytes and completes the blob in one request; a PUT that
 * completes an upload with a body sends that last part.
 */
export function uploadBodyActions(operation: OciOperation, request: { monolithic: boolean; body: boolean }): string[] {
  if (operation === 'upload-start' && request.monolithic) return ['ecr:UploadLayerPart', 'ecr:CompleteLayerUpload'];
  if (operation === 'upload-complete' && request.body) return ['ecr:UploadLayerPart'];
  return [];
}
