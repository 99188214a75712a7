/** The AWS managed policies for ECR and ECR Public, by their real ARNs, as Berth evaluates them. */
import type { Policy } from './policy.js';

const READ_ONLY = [
  'ecr:GetAuthorizationToken',
  'ecr:BatchCheckLayerAvailability',
  'ecr:GetDownloadUrlForLayer',
  'ecr:GetRepositoryPolicy',
  'ecr:DescribeRepositories',
  'ecr:ListImages',
  'ecr:DescribeImages',
  'ecr:BatchGetImage',
  'ecr:GetLifecyclePolicy',
  'ecr:GetLifecyclePolicyPreview',
  'ecr:ListTagsForResource',
  'ecr:DescribeImageScanFindings',
];

const PUBLIC_READ_ONLY = [
  'ecr-public:GetAuthorizationToken',
  'ecr-public:BatchCheckLayerAvailability',
  'ecr-public:GetRepositoryPolicy',
  'ecr-public:DescribeRepositories',
  'ecr-public:DescribeRegistries',
  'ecr-public:DescribeImages',
  'ecr-public:DescribeImageTags',
  'ecr-public:GetRepositoryCatalogData',
  'ecr-public:GetRegistryCatalogData',
  'sts:GetServiceBearerToken',
];

const allow = (actions: string[]): Policy => ({ statements: [{ effect: 'Allow', actions, resources: ['*'], conditions: [] }] });

export const MANAGED_POLICIES: Record<string, Policy> = {
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly': allow(READ_ONLY),
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser': allow([
    ...READ_ONLY,
    'ecr:InitiateLayerUpload',
    'ecr:UploadLayerPart',
    'ecr:CompleteLayerUpload',
    'ecr:PutImage',
  ]),
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess': allow(['ecr:*']),
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly': allow([
    'ecr:GetAuthorizationToken',
    'ecr:BatchGetImage',
    'ecr:GetDownloadUrlForLayer',
    'ecr:BatchImportUpstreamImage',
  ]),
  'arn:aws:iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly': allow(PUBLIC_READ_ONLY),
  'arn:aws:iam::aws:policy/AmazonElasticContainerRegistryPublicPowerUser': allow([
    ...PUBLIC_READ_ONLY,
    'ecr-public:InitiateLayerUpload',
    'ecr-public:UploadLayerPart',
    'ecr-public:CompleteLayerUpload',
    'ecr-public:PutImage',
  ]),
  'arn:aws:iam::aws:policy/AmazonElasticContainerRegistryPublicFullAccess': allow(['ecr-public:*', 'sts:GetServiceBearerToken']),
};

export function managedPolicy(arn: string): Policy | undefined {
  return Object.hasOwn(MANAGED_POLICIES, arn) ? MANAGED_POLICIES[arn] : undefined;
}
