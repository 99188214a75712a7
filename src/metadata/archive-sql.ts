/**
 * The archive store's SQL that reads the same on both engines (placeholders aside): where a blob
 * belongs, and whether a repository's clients may read it. Shared so the rule is written once.
 */

/** Where blob `$1` belongs: see archive.ts. `p` is the engine's placeholder for the digest. */
export function wantedClassSql(p: string): string {
  return `CASE
    WHEN EXISTS (SELECT 1 FROM manifest_references r JOIN manifests m ON m.repository_id = r.repository_id AND m.digest = r.parent_digest
                 WHERE r.child_digest = ${p} AND r.kind = 'blob' AND m.image_status <> 'ARCHIVED') THEN 'STANDARD'
    WHEN EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = ${p} AND r.kind = 'blob') THEN 'ARCHIVE'
    ELSE 'STANDARD' END`;
}

/**
 * 1 when images of repository `repo` reference blob `digest` and none of them is ACTIVE: asked
 * at every blob HEAD and GET. `refs` names manifest_references as `r`: SQLite, with no statistics,
 * walks the primary key by repository (every reference in it: 200 µs at 2,000) unless told to
 * use the (repository_id, child_digest) index; each image's status is a keyed subquery, not a
 * join (sqlite/blobs.ts says why).
 */
export function layerArchivedSql(repo: string, digest: string, refs = 'manifest_references r'): string {
  return `SELECT
    EXISTS (SELECT 1 FROM ${refs} WHERE r.repository_id = ${repo} AND r.child_digest = ${digest} AND r.kind = 'blob')
    AND NOT EXISTS (SELECT 1 FROM ${refs} WHERE r.repository_id = ${repo} AND r.child_digest = ${digest} AND r.kind = 'blob'
                    AND (SELECT m.image_status FROM manifests m WHERE m.repository_id = r.repository_id AND m.digest = r.parent_digest) = 'ACTIVE') AS archived`;
}

/** The repositories with the most archived bytes, most first (ties by name); `limit` is the engine's placeholder. */
export function largestArchivedSql(limit: string): string {
  return `SELECT r.registry_id AS registry_id, r.name AS repository, SUM(b.size) AS bytes
    FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id JOIN blobs b ON b.digest = rb.digest
    WHERE b.storage_class = 'ARCHIVE' GROUP BY r.registry_id, r.name ORDER BY bytes DESC, r.registry_id, r.name LIMIT ${limit}`;
}
