/** The parts of ECR's response shapes the console reads (field names exactly as on the wire). */

export interface Repository {
  repositoryName: string;
  repositoryArn: string;
  repositoryUri: string;
  registryId: string;
  createdAt?: number;
  imageTagMutability?: string;
  imageTagMutabilityExclusionFilters?: MutabilityFilter[];
  imageScanningConfiguration?: { scanOnPush?: boolean };
  encryptionConfiguration?: { encryptionType?: string; kmsKey?: string };
}

export interface MutabilityFilter {
  filterType: 'WILDCARD';
  filter: string;
}

export interface ImageDetail {
  registryId?: string;
  repositoryName: string;
  imageDigest: string;
  imageTags?: string[];
  imageSizeInBytes?: number;
  imagePushedAt?: number;
  lastRecordedPullTime?: number;
  imageManifestMediaType?: string;
  artifactMediaType?: string;
  imageScanStatus?: { status?: string; description?: string };
  imageScanFindingsSummary?: { findingSeverityCounts?: Record<string, number> };
}

export interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

export interface Finding {
  name?: string;
  description?: string;
  uri?: string;
  severity?: string;
  attributes?: { key: string; value?: string }[];
}

export interface EnhancedFinding {
  title?: string;
  description?: string;
  severity?: string;
  status?: string;
  packageVulnerabilityDetails?: {
    vulnerabilityId?: string;
    sourceUrl?: string;
    referenceUrls?: string[];
    vulnerablePackages?: { name?: string; version?: string; fixedInVersion?: string; packageManager?: string }[];
  };
  remediation?: { recommendation?: { text?: string; url?: string } };
}

export interface ScanFindings {
  imageScanStatus?: { status?: string; description?: string };
  imageScanFindings?: {
    findings?: Finding[];
    enhancedFindings?: EnhancedFinding[];
    findingSeverityCounts?: Record<string, number>;
    imageScanCompletedAt?: number;
  };
  nextToken?: string;
}

export interface Referrer {
  digest: string;
  mediaType?: string;
  artifactType?: string;
  size?: number;
  annotations?: Record<string, string>;
}

export interface PreviewResult {
  imageTags?: string[];
  imageDigest?: string;
  imagePushedAt?: number;
  action?: { type?: string };
  appliedRulePriority?: number;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  artifactType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** An image manifest or an index, as pulled. */
export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}
