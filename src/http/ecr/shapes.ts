/** ECR's response shapes, built from core records. */
import { repositoryArn } from '../../core/arns.js';
import type { RepositoryRecord } from '../../metadata/types.js';
import type { ImageDetail } from '../../registry/images.js';
import { accountOf } from '../../core/registry-key.js';
import type { V2Location } from '../registry-address.js';
import { wireTime } from './wire-json.js';

/** `locate` gives where clients reach an account's registry over /v2 (EcrCall.v2Location). */
export function repositoryShape(repo: RepositoryRecord, region: string, locate: (accountId: string) => V2Location): Record<string, unknown> {
  const accountId = accountOf(repo.registryKey);
  const at = locate(accountId);
  const s = repo.settings;
  const shape: Record<string, unknown> = {
    repositoryArn: repositoryArn(region, accountId, repo.name),
    registryId: accountId,
    repositoryName: repo.name,
    repositoryUri: `${at.host}/${at.prefix}${repo.name}`,
    createdAt: wireTime(repo.createdAt),
    imageTagMutability: s.imageTagMutability,
    imageScanningConfiguration: { scanOnPush: s.scanOnPush },
    encryptionConfiguration: { encryptionType: s.encryptionType, ...(s.kmsKey !== undefined && { kmsKey: s.kmsKey }) },
  };
  if (s.imageTagMutabilityExclusionFilters) shape.imageTagMutabilityExclusionFilters = s.imageTagMutabilityExclusionFilters;
  return shape;
}

/** What DescribeImages adds for a scanned image (actions/scans.ts' scanSummaryShape). */
export interface ScanSummaryShape {
  imageScanStatus?: unknown;
  imageScanFindingsSummary?: unknown;
}

/**
 * One object literal, every member always present in ECR's order, an absent one undefined (JSON
 * leaves it out, as toWire does: the same bytes): so every image of a page has one hidden class.
 * Built member by member, an image's shape took one of several (tags or none, scanned or not),
 * the sites reading them went polymorphic and V8 threw this function's optimized code away
 * during a first walk (notes/2026-12-06-s25-list.md).
 */
export function imageDetailShape(accountId: string, repositoryName: string, d: ImageDetail, scan: ScanSummaryShape = {}): Record<string, unknown> {
  return {
    registryId: accountId,
    repositoryName,
    imageDigest: d.digest,
    imageSizeInBytes: d.sizeInBytes,
    imagePushedAt: wireTime(d.pushedAt),
    imageManifestMediaType: d.mediaType,
    imageStatus: d.imageStatus,
    lastArchivedAt: d.archivedAt === undefined ? undefined : wireTime(d.archivedAt),
    lastActivatedAt: d.activatedAt === undefined ? undefined : wireTime(d.activatedAt),
    imageTags: d.tags.length > 0 ? d.tags : undefined,
    artifactMediaType: d.artifactType,
    subjectManifestDigest: d.subject,
    lastRecordedPullTime: d.lastPulledAt === undefined ? undefined : wireTime(d.lastPulledAt),
    imageScanStatus: scan.imageScanStatus,
    imageScanFindingsSummary: scan.imageScanFindingsSummary,
  };
}
