/** Image queries on SQLite: manifests with their tags and sizes, for listings and descriptions. */
import type { Digest } from '../../core/digest.js';
import type { ImageIdSummary, ImageQueries, ImageSummary, LifecycleCandidate, TagStatus } from '../types.js';
import type { Db } from './open.js';
import type { ImageStatus } from '../archive.js';

interface Row {
  digest: string;
  media_type: string;
  size: number;
  pushed_at: number;
  last_pulled_at: number | null;
  artifact_type: string | null;
  subject_digest: string | null;
  tags: string | null;
  blob_bytes: number | null;
  children: string | null;
  image_status: string;
  archived_at: number | null;
  activated_at: number | null;
}

const TAGS = '(SELECT group_concat(t.name, char(10)) FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)';

// The sizes come from blobs_sizes, which the planner passes over for the table's own key
// (unique, but a second seek into the table for the size): 1,000 scattered seeks fewer a page.
const SELECT = `SELECT m.digest, m.media_type, m.size, m.pushed_at, m.last_pulled_at, m.artifact_type, m.subject_digest, m.image_status, m.archived_at, m.activated_at,
  ${TAGS} AS tags,
  (SELECT SUM(b.size) FROM manifest_references r JOIN blobs b INDEXED BY blobs_sizes ON b.digest = r.child_digest
     WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'blob') AS blob_bytes,
  (SELECT group_concat(r.child_digest, char(10)) FROM manifest_references r
     WHERE r.repository_id = m.repository_id AND r.parent_digest = m.digest AND r.kind = 'manifest') AS children
  FROM manifests m`;

/** A listing page's condition: `list` and `listIds` walk the same rows in the same order. */
const PAGE_WHERE = "WHERE m.repository_id = ? AND m.digest > ? AND (? = 'ANY' OR m.image_status = ?)";

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
    imageStatus: r.image_status as ImageStatus,
  };
  if (r.archived_at !== null) s.archivedAt = new Date(r.archived_at);
  if (r.activated_at !== null) s.activatedAt = new Date(r.activated_at);
  if (r.last_pulled_at !== null) s.lastPulledAt = new Date(r.last_pulled_at);
  if (r.artifact_type !== null) s.artifactType = r.artifact_type;
  if (r.subject_digest !== null) s.subject = r.subject_digest as Digest;
  return s;
}

// `select` ends `FROM manifests m`. The listing's index is named: once the database has been
// ANALYZEd (by an operator; Berth never does), the planner takes the table's own key instead,
// which is not covering, from 100 images up (sqlite-query-shapes.test.ts).
const pageSql = (select: string) =>
  Object.fromEntries(
    (Object.keys(TAG_FILTER) as TagStatus[]).map((k) => [k, `${select} INDEXED BY manifests_listing ${PAGE_WHERE} ${TAG_FILTER[k]} ORDER BY m.digest LIMIT ?`]),
  ) as Record<TagStatus, string>;
/** A DescribeImages page, per tag filter (its plan: sqlite-query-shapes.test.ts). */
export const LIST_SQL = pageSql(SELECT);
/** A ListImages page: half the cost of a `list` page on 10,000 images, no sizes summed over references and blobs. */
export const LIST_IDS_SQL = pageSql(`SELECT m.digest, ${TAGS} AS tags FROM manifests m`);

export function createSqliteImages(db: Db): ImageQueries {
  type PageArgs = [number, string, string, string, number];
  const pageStmts = <R>(sql: Record<TagStatus, string>) =>
    Object.fromEntries((Object.keys(sql) as TagStatus[]).map((k) => [k, db.prepare<PageArgs, R>(sql[k])])) as Record<
      TagStatus,
      ReturnType<typeof db.prepare<PageArgs, R>>
    >;
  const listStmts = pageStmts<Row>(LIST_SQL);
  const listIdsStmts = pageStmts<{ digest: string; tags: string | null }>(LIST_IDS_SQL);
  const getStmt = db.prepare<[number, string], Row>(`${SELECT} WHERE m.repository_id = ? AND m.digest = ?`);
  // Tags come in one ordered pass and are grouped here: a correlated subquery per image would
  // cost as much again on a 100,000-image repository.
  const candidatesStmt = db.prepare<
    [number],
    {
      digest: string;
      pushed_at: number;
      last_pulled_at: number | null;
      subject_digest: string | null;
      in_index: number;
      subject_present: number;
      image_status: string;
      archived_at: number | null;
      activated_at: number | null;
    }
  >(
    `SELECT m.digest, m.pushed_at, m.last_pulled_at, m.subject_digest, m.image_status, m.archived_at, m.activated_at,
       EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository_id = m.repository_id AND r.child_digest = m.digest AND r.kind = 'manifest') AS in_index,
       (m.subject_digest IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)) AS subject_present
     FROM manifests m WHERE m.repository_id = ?`,
  );
  const candidateTagsStmt = db.prepare<[number], { digest: string; name: string }>('SELECT digest, name FROM tags WHERE repository_id = ?');
  const candidates = db.transaction((repositoryId: number): LifecycleCandidate[] => {
    const tags = new Map<string, string[]>();
    for (const t of candidateTagsStmt.iterate(repositoryId)) {
      const list = tags.get(t.digest);
      if (list) list.push(t.name);
      else tags.set(t.digest, [t.name]);
    }
    return candidatesStmt.all(repositoryId).map((r) => {
      const c: LifecycleCandidate = {
        digest: r.digest as Digest,
        tags: tags.get(r.digest) ?? [],
        pushedAt: new Date(r.pushed_at),
        inIndex: r.in_index === 1,
        imageStatus: r.image_status as ImageStatus,
      };
      if (r.archived_at !== null) c.archivedAt = new Date(r.archived_at);
      if (r.activated_at !== null) c.activatedAt = new Date(r.activated_at);
      if (r.last_pulled_at !== null) c.lastPulledAt = new Date(r.last_pulled_at);
      if (r.subject_present === 1) c.subject = r.subject_digest as Digest;
      return c;
    });
  });
  // One read transaction for the lot: each statement on its own begins and ends one, a few
  // system calls (locks on the WAL index) that cost more than the lookup itself.
  const getMany = db.transaction((repositoryId: number, digests: Digest[]): ImageSummary[] => {
    const out: ImageSummary[] = [];
    for (const d of new Set(digests)) {
      const r = getStmt.get(repositoryId, d);
      if (r) out.push(toSummary(r));
    }
    return out;
  });
  return {
    async lifecycleCandidates(repositoryId) {
      // One read transaction: tags and manifests from the same snapshot.
      return candidates.deferred(repositoryId);
    },
    async list(repositoryId, page, tagStatus, imageStatus = 'ACTIVE') {
      return listStmts[tagStatus].all(repositoryId, page.after ?? '', imageStatus, imageStatus, page.limit).map(toSummary);
    },
    async listIds(repositoryId, page, tagStatus, imageStatus = 'ACTIVE') {
      return listIdsStmts[tagStatus]
        .all(repositoryId, page.after ?? '', imageStatus, imageStatus, page.limit)
        .map((r): ImageIdSummary => ({ digest: r.digest as Digest, tags: r.tags ? r.tags.split('\n').sort() : [] }));
    },
    async get(repositoryId, digests) {
      return getMany.deferred(repositoryId, digests);
    },
  };
}
