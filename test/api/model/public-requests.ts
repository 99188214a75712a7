/**
 * For ecr-public-model-constraints.test.ts: one request per ECR Public operation that satisfies
 * every constraint of ECR Public's model and sets every constrained member (so each can be broken
 * alone), and the state a refused mutating call must leave as it was.
 */
import type { Body } from './suite.js';

const ACCOUNT = '000000000000';
const REPO = 'model/checks';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const UPLOAD = '0a1b2c3d-0000-4000-8000-00000000abcd';
const ARN = `arn:aws:ecr-public::${ACCOUNT}:repository/${REPO}`;
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['ecr-public:BatchCheckLayerAvailability'] }],
});
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(16, 7)]).toString('base64');
const CATALOG = {
  description: 'checks',
  architectures: ['x86-64'],
  operatingSystems: ['Linux'],
  logoImageBlob: PNG,
  aboutText: 'about',
  usageText: 'usage',
};
/** `registryId` is an alias on the push operations (RegistryIdOrAlias); Berth's alias is the account id. */
const repo = { registryId: ACCOUNT, repositoryName: REPO };

export const PUBLIC_BODIES: Record<string, Body> = {
  BatchCheckLayerAvailability: { ...repo, layerDigests: [DIGEST] },
  BatchDeleteImage: { ...repo, imageIds: [{ imageDigest: DIGEST, imageTag: 'v1' }] },
  CompleteLayerUpload: { ...repo, uploadId: UPLOAD, layerDigests: [DIGEST] },
  CreateRepository: { repositoryName: 'model/new', catalogData: CATALOG, tags: [{ Key: 'team', Value: 'a' }] },
  DeleteRepository: repo,
  DeleteRepositoryPolicy: repo,
  DescribeImageTags: { ...repo, maxResults: 10 },
  DescribeImages: { ...repo, imageIds: [{ imageDigest: DIGEST, imageTag: 'v1' }], maxResults: 10 },
  DescribeRegistries: { maxResults: 10 },
  DescribeRepositories: { registryId: ACCOUNT, repositoryNames: [REPO], maxResults: 10 },
  GetRepositoryCatalogData: repo,
  GetRepositoryPolicy: repo,
  InitiateLayerUpload: repo,
  ListTagsForResource: { resourceArn: ARN },
  PutImage: { ...repo, imageManifest: '{"schemaVersion":2}', imageTag: 'v1' },
  PutRegistryCatalogData: { displayName: 'Model checks' },
  PutRepositoryCatalogData: { ...repo, catalogData: CATALOG },
  SetRepositoryPolicy: { ...repo, policyText: POLICY },
  TagResource: { resourceArn: ARN, tags: [{ Key: 'team', Value: 'b' }] },
  UntagResource: { resourceArn: ARN, tagKeys: ['team'] },
  UploadLayerPart: { ...repo, uploadId: UPLOAD, partFirstByte: 0, partLastByte: 0, layerPartBlob: 'AA==' },
};

/** A repository with catalog data, a policy and tags, and the registry's display name. */
export const PUBLIC_SEED: ReadonlyArray<[string, Body]> = [
  ['CreateRepository', { repositoryName: REPO, catalogData: { description: 'seeded', logoImageBlob: PNG }, tags: [{ Key: 'team', Value: 'a' }] }],
  ['SetRepositoryPolicy', { repositoryName: REPO, policyText: POLICY }],
  ['PutRegistryCatalogData', { displayName: 'seeded' }],
];

/** Everything ECR Public's mutating calls could change. */
export const PUBLIC_READS: ReadonlyArray<[string, Body]> = [
  ['DescribeRepositories', {}],
  ['DescribeImages', { repositoryName: REPO }],
  ['DescribeImageTags', { repositoryName: REPO }],
  ['GetRepositoryPolicy', { repositoryName: REPO }],
  ['GetRepositoryCatalogData', { repositoryName: REPO }],
  ['ListTagsForResource', { resourceArn: ARN }],
  ['GetRegistryCatalogData', {}],
  ['DescribeRegistries', {}],
];
