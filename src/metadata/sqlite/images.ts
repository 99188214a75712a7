/** Image queries on SQLite: manifests with their tags and sizes, for listings and descriptions. */
import type { Digest } from '../../core/digest.js';
import type { ImageQueries, ImageSummary, TagStatus } from '../types.js';
import type { Db } from './open.js';

interface Row {
  digest: string;
  media_type: string;
  size: number;
  pushed_at: number;
  artifact_type: string | null;
  subject_digest: string | null;
  tags: string | null;
  blob_bytes: number | null;
  children: string | null;
}

const SELECT = `SELECT m.digest, m.media_type, m.size, m.pushed_at, m.artifact_type, m.subject_digest,
  (SELECT group_concat(t.name, char(10)) FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) AS tags,
  (SELECT SUM(b.size) FROM manifest_references r JOIN blobs b ON b.digest = r.child_digest
     WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'blob') AS blob_bytes,
  (SELECT group_concat(r.child_digest, char(10)) FROM manifest_references r
     WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'manifest') AS children
  FROM manifests m`;

const TAG_FILTER: Record<TagStatus, string> = {
  ANY: '',
  TAGGED: 'AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)',
  UNTAGGED: 'AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)',
};

function toSummary(r: Row): ImageSummary {
  const s: ImageSummary = {
    digest: r.digest as Digest,
    mediaType: r.media_type,
    manifestSize: r.size,
    blobBytes: r.blob_bytes ?? 0,
    children: r.children ? (r.children.split('\n') as Digest[]) : [],
    pushedAt: new Date(r.pushed_at),
    tags: r.tags ? r.tags.split('\n').sort() : [],
  };
  if (r.artifact_type !== null) s.artifactType = r.artifact_type;
  if (r.subject_digest !== null) s.subject = r.subject_digest as Digest;
  return s;
}

export function createSqliteImages(db: Db): ImageQueries {
  const listStmts = Object.fromEntries(
    (Object.keys(TAG_FILTER) as TagStatus[]).map((k) => [
      k,
      db.prepare<[number, string, number], Row>(
        `${SELECT} WHERE m.repository_id = ? AND m.digest > ? ${TAG_FILTER[k]} ORDER BY m.digest LIMIT ?`,
      ),
    ]),
  ) as Record<TagStatus, ReturnType<typeof db.prepare<[number, string, number], Row>>>;
  const getStmt = db.prepare<[number, string], Row>(`${SELECT} WHERE m.repository_id = ? AND m.digest = ?`);
  const parentsStmt = db.prepare<[number, string], { parent_digest: string }>(
    `SELECT parent_digest FROM manifest_references WHERE repository_id = ? AND child_digest = ? AND kind = 'manifest'`,
  );
  return {
    async list(repositoryId, page, tagStatus) {
      return listStmts[tagStatus].all(repositoryId, page.after ?? '', page.limit).map(toSummary);
    },
    async get(repositoryId, digests) {
      const out: ImageSummary[] = [];
      for (const d of new Set(digests)) {
        const r = getStmt.get(repositoryId, d);
        if (r) out.push(toSummary(r));
      }
      return out;
    },
    async parents(repositoryId, digest) {
      return parentsStmt.all(repositoryId, digest).map((r) => r.parent_digest as Digest);
    },
  };
}
