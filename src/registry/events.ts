/**
 * ECR's events, in EventBridge's shapes: the envelope (version, id, detail-type, source
 * "aws.ecr", account, time, region, resources, detail) and, per type, the detail fields ECR
 * documents. The use cases hand these to the metadata store, which writes them to the outbox in
 * the transaction of the change they report; the body is built here once and delivered as is.
 * ECR Public registries emit nothing (ECR Public sends no events).
 */
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';
import { randomUUID } from 'node:crypto';
import { PUBLIC_REGION, repositoryArn } from '../core/arns.js';
import type { Digest } from '../core/digest.js';
import type { OutboxEvent, RemovalEvents, RemovedImage } from '../metadata/types.js';
import type { RepoScope } from './context.js';

export const EVENT_SOURCE = 'aws.ecr';

export const DetailTypes = {
  ImageAction: 'ECR Image Action',
  ImageScan: 'ECR Image Scan',
  LifecyclePolicyAction: 'ECR Lifecycle Policy Action',
  ReferrerAction: 'ECR Referrer Action',
  ReplicationAction: 'ECR Replication Action',
  PullThroughCacheAction: 'ECR Pull Through Cache Action',
} as const;

function split(key: RegistryKey): { account: string; region: string } {
  return { account: accountOf(key), region: regionOf(key) };
}

/** Whether the registry emits events at all. */
export function emitsEvents(key: RegistryKey): boolean {
  return regionOf(key) !== PUBLIC_REGION;
}

/** EventBridge's time: ISO 8601 to the second, UTC. */
export function eventTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

export function ecrEvent(key: RegistryKey, detailType: string, at: Date, resources: string[], detail: Record<string, unknown>): OutboxEvent {
  const id = randomUUID();
  const { account, region } = split(key);
  const body = JSON.stringify({ version: '0', id, 'detail-type': detailType, source: EVENT_SOURCE, account, time: eventTime(at), region, resources, detail });
  return { id, registryKey: key, detailType, body };
}

export interface PushedImage {
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  subject?: Digest;
  tags: readonly string[];
}

/**
 * A push: "ECR Image Action" PUSH, or "ECR Referrer Action" PUSH for a manifest with a subject
 * (a signature, an SBOM); one event per tag written, one without `image-tag` for a push by digest.
 */
export function pushEvents(scope: RepoScope, image: PushedImage, at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  const tags: Array<string | undefined> = image.tags.length > 0 ? [...image.tags] : [undefined];
  return tags.map((tag) => imageAction(scope, 'PUSH', image, tag, at));
}

function imageAction(
  scope: RepoScope,
  action: 'PUSH' | 'DELETE',
  image: { digest: Digest; mediaType: string; artifactType?: string; subject?: Digest },
  tag: string | undefined,
  at: Date,
): OutboxEvent {
  const detail: Record<string, unknown> = {
    result: 'SUCCESS',
    'repository-name': scope.name,
    'image-digest': image.digest,
    'action-type': action,
    ...(tag !== undefined && { 'image-tag': tag }),
    'manifest-media-type': image.mediaType,
    ...(image.artifactType !== undefined && { 'artifact-media-type': image.artifactType }),
  };
  return ecrEvent(scope.registryKey, image.subject === undefined ? DetailTypes.ImageAction : DetailTypes.ReferrerAction, at, [], detail);
}

/**
 * A replicated image arriving at its destination: "ECR Replication Action" REPLICATE, emitted in
 * the destination's registry (as ECR emits it in the destination region), one per tag.
 */
export function replicationEvents(scope: RepoScope, image: PushedImage, from: { accountId: string; region: string }, at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  const { account, region } = split(scope.registryKey);
  const tags: Array<string | undefined> = image.tags.length > 0 ? [...image.tags] : [undefined];
  return tags.map((tag) =>
    ecrEvent(scope.registryKey, DetailTypes.ReplicationAction, at, [repositoryArn(region, account, scope.name)], {
      result: 'SUCCESS',
      'repository-name': scope.name,
      'image-digest': image.digest,
      'source-account': from.accountId,
      'action-type': 'REPLICATE',
      'source-region': from.region,
      ...(tag !== undefined && { 'image-tag': tag }),
    }),
  );
}

/** A delete (or untag), by any door: "ECR Image Action" DELETE, or "ECR Referrer Action" DELETE for a referrer. */
export function deleteEvents(scope: RepoScope, at: Date): RemovalEvents | undefined {
  if (!emitsEvents(scope.registryKey)) return undefined;
  return (r: RemovedImage) => [imageAction(scope, 'DELETE', r, r.tag, at)];
}

/** An expiry by the repository's lifecycle policy: "ECR Lifecycle Policy Action" EXPIRE, per image. */
export function lifecycleEvents(scope: RepoScope, at: Date): RemovalEvents | undefined {
  if (!emitsEvents(scope.registryKey)) return undefined;
  const { account, region } = split(scope.registryKey);
  return (r: RemovedImage) => [
    ecrEvent(scope.registryKey, DetailTypes.LifecyclePolicyAction, at, [repositoryArn(region, account, scope.name)], {
      'repository-name': scope.name,
      'action-type': 'EXPIRE',
      'image-digest': r.digest,
      'image-tags': r.tags,
    }),
  ];
}

/**
 * A finished scan: "ECR Image Scan", with the counts of the severities that occur (ECR leaves
 * out a severity with no finding).
 */
export function scanEvents(scope: RepoScope, digest: Digest, tags: readonly string[], status: string, counts: Record<string, number>, at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  const { account, region } = split(scope.registryKey);
  const present = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  return [
    ecrEvent(scope.registryKey, DetailTypes.ImageScan, at, [repositoryArn(region, account, scope.name)], {
      'scan-status': status,
      'repository-name': scope.name,
      'finding-severity-counts': present,
      'image-digest': digest,
      'image-tags': [...tags],
    }),
  ];
}

/** Where an image the pull-through cache imported came from. */
export interface PullThroughOrigin {
  ecrRepositoryPrefix: string;
  upstreamRegistryUrl: string;
}

/**
 * An image the pull-through cache imported: "ECR Pull Through Cache Action" with sync-status
 * SUCCESS, one per tag written (one without `image-tag` for an import by digest).
 */
export function pullThroughEvents(scope: RepoScope, image: PushedImage, origin: PullThroughOrigin, at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  const tags: Array<string | undefined> = image.tags.length > 0 ? [...image.tags] : [undefined];
  const { account, region } = split(scope.registryKey);
  return tags.map((tag) =>
    ecrEvent(scope.registryKey, DetailTypes.PullThroughCacheAction, at, [repositoryArn(region, account, scope.name)], {
      'rule-version': '1',
      'sync-status': 'SUCCESS',
      'ecr-repository-prefix': origin.ecrRepositoryPrefix,
      'repository-name': scope.name,
      'upstream-registry-url': origin.upstreamRegistryUrl,
      ...(tag !== undefined && { 'image-tag': tag }),
      'image-digest': image.digest,
    }),
  );
}

/** An image whose storage class changed, as its events describe it. */
export interface ClassChangedImage {
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  tags: readonly string[];
}

/**
 * UpdateImageStorageClass by a caller: "ECR Image Action" UPDATE_STORAGE_CLASS with the target
 * class, and on restore (when the image is ACTIVE again) `last-activated-at`.
 */
export function storageClassEvents(scope: RepoScope, image: ClassChangedImage, target: 'ARCHIVE' | 'STANDARD', at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  return [
    ecrEvent(scope.registryKey, DetailTypes.ImageAction, at, [], {
      result: 'SUCCESS',
      'repository-name': scope.name,
      'image-digest': image.digest,
      'action-type': 'UPDATE_STORAGE_CLASS',
      'target-storage-class': target,
      'manifest-media-type': image.mediaType,
      ...(image.artifactType !== undefined && { 'artifact-media-type': image.artifactType }),
      ...(target === 'STANDARD' && { 'last-activated-at': eventTime(at) }),
    }),
  ];
}

/**
 * A transition by the repository's lifecycle policy: "ECR Lifecycle Policy Action" TRANSITION,
 * per image, with the EXPIRE event's fields and the target class (field names as EXPIRE's).
 */
export function lifecycleTransitionEvents(scope: RepoScope, image: ClassChangedImage, at: Date): OutboxEvent[] {
  if (!emitsEvents(scope.registryKey)) return [];
  const { account, region } = split(scope.registryKey);
  return [
    ecrEvent(scope.registryKey, DetailTypes.LifecyclePolicyAction, at, [repositoryArn(region, account, scope.name)], {
      'repository-name': scope.name,
      'action-type': 'TRANSITION',
      'image-digest': image.digest,
      'image-tags': [...image.tags],
      'target-storage-class': 'ARCHIVE',
    }),
  ];
}
