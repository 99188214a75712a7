/** How a manifests row reads back, shared by both engines (pg is set to return BIGINT as numbers). */
import type { Digest } from '../core/digest.js';
import type { ManifestRecord } from './types.js';
import type { ImageStatus } from './archive.js';

export interface ManifestRow {
  repository_id: number;
  digest: string;
  media_type: string;
  size: number;
  payload: Buffer;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: string | null;
  pushed_at: number;
  image_status: string;
  archived_at: number | null;
  activated_at: number | null;
}

export function toManifest(r: ManifestRow): ManifestRecord {
  const m: ManifestRecord = {
    repositoryId: r.repository_id,
    digest: r.digest as Digest,
    mediaType: r.media_type,
    size: r.size,
    payload: r.payload,
    pushedAt: new Date(r.pushed_at),
    imageStatus: r.image_status as ImageStatus,
  };
  if (r.archived_at !== null) m.archivedAt = new Date(r.archived_at);
  if (r.activated_at !== null) m.activatedAt = new Date(r.activated_at);
  if (r.artifact_type !== null) m.artifactType = r.artifact_type;
  if (r.subject_digest !== null) m.subject = r.subject_digest as Digest;
  if (r.annotations !== null) m.annotations = JSON.parse(r.annotations) as Record<string, string>;
  return m;
}

/**
 * The first reference stored under another size than its descriptor declares (PutManifestInput's
 * `declaredSizes`), from the sizes an engine read beside its existence check; in `order`.
 */
export function sizeMismatch(
  order: readonly Digest[],
  stored: ReadonlyMap<string, number>,
  declared: ReadonlyMap<Digest, number> | undefined,
): { kind: 'wrongSize'; digest: Digest; declared: number; actual: number } | undefined {
  if (!declared) return undefined;
  for (const digest of order) {
    const want = declared.get(digest);
    const actual = stored.get(digest);
    if (want !== undefined && actual !== undefined && Number(actual) !== want) return { kind: 'wrongSize', digest, declared: want, actual: Number(actual) };
  }
  return undefined;
}
