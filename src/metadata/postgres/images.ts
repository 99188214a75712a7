/**
 * Image queries on PostgreSQL (the twin of ../sqlite/images.ts). Each is one statement, so it
 * reads one snapshot: tags, manifests and references always agree with each other.
 */
import type { Digest } from '../../core/digest.js';
import type { ImageIdSummary, ImageQueries, ImageSummary, LifecycleCandidate, TagStatus } from '../types.js';
import { rows, type PgContext } from './pool.js';
import type { ImageStatus } from '../archive.js';

interface Row {
  digest: string;
  media_type: string;
  size: number;
  pushed_at: number;
  last_pulled_at: number | null;
  artifact_type: string | null;
  subject_digest: string | null;
  tags: string[];
  blob_bytes: number | null;
  children: string[];
  image_status: string;
  archived_at: number | null;
  activated_at: number | null;
}

const TAG_FILTER: Record<TagStatus, string> = {
  ANY: '',
  TAGGED: 'AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)',
  UNTAGGED: 'AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)',
};

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function toSummary(r: Row): ImageSummary {
  const s: ImageSummary = {
    digest: r.digest as Digest,
    mediaType: r.media_type,
    manifestSize: r.size,
    blobBytes: r.blob_bytes ?? 0,
    children: r.children as Digest[],
    pushedAt: new Date(r.pushed_at),
    tags: [...r.tags].sort(byteOrder),
    imageStatus: r.image_status as ImageStatus,
  };
  if (r.archived_at !== null) s.archivedAt = new Date(r.archived_at);
  if (r.activated_at !== null) s.activatedAt = new Date(r.activated_at);
  if (r.last_pulled_at !== null) s.lastPulledAt = new Date(r.last_pulled_at);
  if (r.artifact_type !== null) s.artifactType = r.artifact_type;
  if (r.subject_digest !== null) s.subject = r.subject_digest as Digest;
  return s;
}

export function createPostgresImages({ pool, collate }: PgContext): ImageQueries {
  const SELECT = `SELECT m.digest, m.media_type, m.size, m.pushed_at, m.last_pulled_at, m.artifact_type, m.subject_digest, m.image_status, m.archived_at, m.activated_at,
    ARRAY(SELECT t.name FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) AS tags,
    (SELECT SUM(b.size)::bigint FROM manifest_references r JOIN blobs b ON b.digest = r.child_digest
       WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'blob') AS blob_bytes,
    ARRAY(SELECT r.child_digest FROM manifest_references r
       WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'manifest' ORDER BY r.child_digest${collate}) AS children
    FROM manifests m`;

  // `list` and `listIds` walk the same rows in the same order.
  const pageOf = (tagStatus: TagStatus) =>
    `WHERE m.repository_id = $1 AND m.digest${collate} > $2 AND ($4 = 'ANY' OR m.image_status = $4) ${TAG_FILTER[tagStatus]}
     ORDER BY m.digest${collate} LIMIT $3`;

  return {
    async list(repositoryId, page, tagStatus, imageStatus = 'ACTIVE') {
      const found = await rows<Row>(pool, `${SELECT} ${pageOf(tagStatus)}`, [repositoryId, page.after ?? '', page.limit, imageStatus]);
      return found.map(toSummary);
    },
    async listIds(repositoryId, page, tagStatus, imageStatus = 'ACTIVE') {
      const found = await rows<{ digest: string; tags: string[] }>(
        pool,
        `SELECT m.digest, ARRAY(SELECT t.name FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) AS tags
         FROM manifests m ${pageOf(tagStatus)}`,
        [repositoryId, page.after ?? '', page.limit, imageStatus],
      );
      return found.map((r): ImageIdSummary => ({ digest: r.digest as Digest, tags: [...r.tags].sort(byteOrder) }));
    },
    async get(repositoryId, digests) {
      const found = await rows<Row>(pool, `${SELECT} WHERE m.repository_id = $1 AND m.digest = ANY($2::text[])`, [repositoryId, [...new Set(digests)]]);
      return found.map(toSummary);
    },
    async lifecycleCandidates(repositoryId) {
      // Tags are grouped in one pass (a hash aggregate) and joined, rather than a subquery per
      // image: this runs over every image of repositories with 100,000 of them.
      const found = await rows<{
        digest: string;
        pushed_at: number;
        last_pulled_at: number | null;
        subject_digest: string | null;
        in_index: boolean;
        subject_present: boolean;
        tags: string[] | null;
        image_status: string;
        archived_at: number | null;
        activated_at: number | null;
      }>(
        pool,
        `WITH t AS (SELECT digest, array_agg(name) AS tags FROM tags WHERE repository_id = $1 GROUP BY digest)
         SELECT m.digest, m.pushed_at, m.last_pulled_at, m.subject_digest, t.tags, m.image_status, m.archived_at, m.activated_at,
           EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository_id = m.repository_id AND r.child_digest = m.digest AND r.kind = 'manifest') AS in_index,
           (m.subject_digest IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)) AS subject_present
         FROM manifests m LEFT JOIN t ON t.digest = m.digest WHERE m.repository_id = $1`,
        [repositoryId],
      );
      return found.map((r) => {
        const c: LifecycleCandidate = {
          digest: r.digest as Digest,
          tags: r.tags ?? [],
          pushedAt: new Date(r.pushed_at),
          inIndex: r.in_index,
          imageStatus: r.image_status as ImageStatus,
        };
        if (r.archived_at !== null) c.archivedAt = new Date(r.archived_at);
        if (r.activated_at !== null) c.activatedAt = new Date(r.activated_at);
        if (r.last_pulled_at !== null) c.lastPulledAt = new Date(r.last_pulled_at);
        if (r.subject_present) c.subject = r.subject_digest as Digest;
        return c;
      });
    },
  };
}
