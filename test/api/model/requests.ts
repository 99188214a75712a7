/**
 * For ecr-model-constraints.test.ts: one request per operation that satisfies every constraint
 * of ECR's model and sets every constrained member (so each can be broken alone), and the state
 * a refused mutating call must leave as it was (the calls that set it up and read it back).
 */
import type { Body } from './suite.js';

const ACCOUNT = '000000000000';
const REPO = 'model/checks';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const UPLOAD = '0a1b2c3d-0000-4000-8000-00000000abcd';
const KMS_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/abcd-1234`;
const CREDENTIAL = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ecr-pullthroughcache/hub-AbCd`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ecr-role`;
const SIGNING_PROFILE = `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-profiles/model_profile`;
const LIFECYCLE = JSON.stringify({
  rules: [
    { rulePriority: 1, description: 'keep ten', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } },
  ],
});
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['ecr:BatchGetImage'] }],
});
const FILTERS = [{ filterType: 'WILDCARD', filter: 'latest' }];
const IMAGE_ID = { imageDigest: DIGEST, imageTag: 'v1' };
const repo = { registryId: ACCOUNT, repositoryName: REPO };
const template = {
  prefix: 'team',
  description: 'for team repositories',
  encryptionConfiguration: { encryptionType: 'KMS', kmsKey: KMS_KEY },
  imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
  imageTagMutabilityExclusionFilters: FILTERS,
  repositoryPolicy: POLICY,
  lifecyclePolicy: LIFECYCLE,
  appliedFor: ['CREATE_ON_PUSH'],
  customRoleArn: ROLE,
};

export const BASE_BODIES: Record<string, Body> = {
  BatchCheckLayerAvailability: { ...repo, layerDigests: [DIGEST] },
  BatchDeleteImage: { ...repo, imageIds: [IMAGE_ID] },
  BatchGetImage: { ...repo, imageIds: [IMAGE_ID], acceptedMediaTypes: ['application/vnd.oci.image.manifest.v1+json'] },
  BatchGetRepositoryScanningConfiguration: { repositoryNames: [REPO] },
  CompleteLayerUpload: { ...repo, uploadId: UPLOAD, layerDigests: [DIGEST] },
  CreatePullThroughCacheRule: {
    ecrRepositoryPrefix: 'hub',
    upstreamRegistryUrl: 'registry-1.docker.io',
    registryId: ACCOUNT,
    upstreamRegistry: 'docker-hub',
    credentialArn: CREDENTIAL,
    customRoleArn: ROLE,
    upstreamRepositoryPrefix: 'library',
  },
  CreateRepository: {
    registryId: ACCOUNT,
    repositoryName: 'model/new',
    imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
    imageTagMutabilityExclusionFilters: FILTERS,
    encryptionConfiguration: { encryptionType: 'KMS', kmsKey: KMS_KEY },
  },
  CreateRepositoryCreationTemplate: { ...template, prefix: 'newteam' },
  DeleteLifecyclePolicy: repo,
  DeletePullThroughCacheRule: { ecrRepositoryPrefix: 'hub', registryId: ACCOUNT },
  DeleteRepository: repo,
  DeleteRepositoryCreationTemplate: { prefix: 'team' },
  DeleteRepositoryPolicy: repo,
  DescribeImageReplicationStatus: { ...repo, imageId: IMAGE_ID },
  DescribeImageScanFindings: { ...repo, imageId: IMAGE_ID, maxResults: 10 },
  DescribeImages: { ...repo, imageIds: [IMAGE_ID], maxResults: 10, filter: { tagStatus: 'ANY', imageStatus: 'ANY' } },
  DescribePullThroughCacheRules: { registryId: ACCOUNT, ecrRepositoryPrefixes: ['hub'], maxResults: 10 },
  DescribeRepositories: { registryId: ACCOUNT, repositoryNames: [REPO], maxResults: 10 },
  DescribeRepositoryCreationTemplates: { prefixes: ['team'], maxResults: 10 },
  GetAccountSetting: { name: 'BLOB_MOUNTING' },
  GetAuthorizationToken: { registryIds: [ACCOUNT] },
  GetDownloadUrlForLayer: { ...repo, layerDigest: DIGEST },
  GetLifecyclePolicy: repo,
  GetLifecyclePolicyPreview: { ...repo, imageIds: [IMAGE_ID], maxResults: 10, filter: { tagStatus: 'ANY' } },
  GetRepositoryPolicy: repo,
  InitiateLayerUpload: repo,
  ListImageReferrers: {
    ...repo,
    subjectId: { imageDigest: DIGEST },
    filter: { artifactTypes: ['application/spdx+json'], artifactStatus: 'ANY' },
    maxResults: 10,
  },
  ListImages: { ...repo, maxResults: 10, filter: { tagStatus: 'ANY', imageStatus: 'ANY' } },
  PutAccountSetting: { name: 'BLOB_MOUNTING', value: 'DISABLED' },
  PutImage: { ...repo, imageManifest: '{"schemaVersion":2}', imageTag: 'v1' },
  PutImageScanningConfiguration: { ...repo, imageScanningConfiguration: { scanOnPush: true } },
  PutImageTagMutability: { ...repo, imageTagMutability: 'MUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: FILTERS },
  PutLifecyclePolicy: { ...repo, lifecyclePolicyText: LIFECYCLE },
  PutRegistryPolicy: { policyText: POLICY },
  PutRegistryScanningConfiguration: {
    scanType: 'BASIC',
    rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'prod*', filterType: 'WILDCARD' }] }],
  },
  PutReplicationConfiguration: {
    replicationConfiguration: {
      rules: [{ destinations: [{ region: 'eu-west-1', registryId: '111122223333' }], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] }],
    },
  },
  SetRepositoryPolicy: { ...repo, policyText: POLICY },
  StartImageScan: { ...repo, imageId: IMAGE_ID },
  StartLifecyclePolicyPreview: { ...repo, lifecyclePolicyText: LIFECYCLE },
  UpdateImageStorageClass: { ...repo, imageId: IMAGE_ID, targetStorageClass: 'ARCHIVE' },
  UpdatePullThroughCacheRule: { registryId: ACCOUNT, ecrRepositoryPrefix: 'hub', credentialArn: CREDENTIAL, customRoleArn: ROLE },
  UpdateRepositoryCreationTemplate: template,
  UploadLayerPart: { ...repo, uploadId: UPLOAD, partFirstByte: 0, partLastByte: 0, layerPartBlob: 'AA==' },
  ValidatePullThroughCacheRule: { ecrRepositoryPrefix: 'hub', registryId: ACCOUNT },
  RegisterPullTimeUpdateExclusion: { principalArn: ROLE },
  DeregisterPullTimeUpdateExclusion: { principalArn: ROLE },
  ListPullTimeUpdateExclusions: { maxResults: 10 },
  PutSigningConfiguration: {
    signingConfiguration: { rules: [{ signingProfileArn: SIGNING_PROFILE, repositoryFilters: [{ filter: 'model/*', filterType: 'WILDCARD_MATCH' }] }] },
  },
  DescribeImageSigningStatus: { ...repo, imageId: IMAGE_ID },
};

/** Operations that change something when they succeed. */
export const MUTATING = /^(?:Put|Create|Delete|Set|Update|Tag|Untag|Start|Stop|Register|Deregister|BatchDelete|Upload|Complete|Initiate)/;

/** Something for each mutating call to change: a repository with settings, policies, a template, registry settings. */
export const SEED: ReadonlyArray<[string, Body]> = [
  ['CreateRepository', { repositoryName: REPO, tags: [{ Key: 'team', Value: 'a' }] }],
  ['SetRepositoryPolicy', { repositoryName: REPO, policyText: POLICY }],
  ['PutLifecyclePolicy', { repositoryName: REPO, lifecyclePolicyText: LIFECYCLE }],
  ['CreateRepositoryCreationTemplate', { prefix: 'team', appliedFor: ['CREATE_ON_PUSH'], description: 'seeded' }],
  [
    'PutRegistryScanningConfiguration',
    { scanType: 'BASIC', rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'seed*', filterType: 'WILDCARD' }] }] },
  ],
  ['PutSigningConfiguration', { signingConfiguration: { rules: [{ signingProfileArn: SIGNING_PROFILE }] } }],
];

/** Everything the mutating calls could change. */
export const READS: ReadonlyArray<[string, Body]> = [
  ['DescribeRepositories', {}],
  ['ListImages', { repositoryName: REPO }],
  ['GetRepositoryPolicy', { repositoryName: REPO }],
  ['GetLifecyclePolicy', { repositoryName: REPO }],
  ['ListTagsForResource', { resourceArn: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/${REPO}` }],
  ['DescribeRegistry', {}],
  ['GetRegistryScanningConfiguration', {}],
  ['GetRegistryPolicy', {}],
  ['DescribeRepositoryCreationTemplates', {}],
  ['DescribePullThroughCacheRules', {}],
  ['GetAccountSetting', { name: 'BLOB_MOUNTING' }],
  ['ListPullTimeUpdateExclusions', {}],
  ['GetSigningConfiguration', {}],
];
