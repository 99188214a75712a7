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

export function imageDetailShape(accountId: string, repositoryName: string, d: ImageDetail, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const shape: Record<string, unknown> = {
    registryId: accountId,
    repositoryName,
    imageDigest: d.digest,
    imageSizeInBytes: d.sizeInBytes,
    imagePushedAt: wireTime(d.pushedAt),
    imageManifestMediaType: d.mediaType,
    imageStatus: d.imageStatus,
  };
  if (d.archivedAt !== undefined) shape.lastArchivedAt = wireTime(d.archivedAt);
  if (d.activatedAt !== undefined) shape.lastActivatedAt = wireTime(d.activatedAt);
  if (d.tags.length > 0) shape.imageTags = d.tags;
  if (d.artifactType !== undefined) shape.artifactMediaType = d.artifactType;
  if (d.subject !== undefined) shape.subjectManifestDigest = d.subject;
  if (d.lastPulledAt !== undefined) shape.lastRecordedPullTime = wireTime(d.lastPulledAt);
  // Added in place, not spread into a copy: one object fewer per image of a page.
  return Object.assign(shape, extra);
}
