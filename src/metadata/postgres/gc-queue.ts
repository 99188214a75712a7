/**
 * The statements that feed the garbage collector on PostgreSQL (the twin of ../sqlite/gc-queue.ts).
 * They run inside the caller's transaction, so a blob is queued in the same commit as the change.
 *
 * A blob's review row doubles as its GC mutex: a reviewer decides a digest only while it holds
 * the review row locked (see gc.ts), and queueing upserts that row, which waits for such a
 * reviewer. Whoever queues first therefore cannot be overtaken by a review of that digest for the
 * rest of its transaction. Rows are written in digest order, so two transactions queueing
 * overlapping sets lock them in the same order and never deadlock.
 */
import { changes, one, type Queryable } from './pool.js';

// The last event wins: a blob's grace period runs from the latest reason to look at it.
const UPSERT = 'ON CONFLICT (digest) DO UPDATE SET queued_at = excluded.queued_at';

/** Queues a blob for review at `now`; an earlier queueing is pushed back to `now`. */
export async function queueReview(tx: Queryable, digest: string, now: number): Promise<void> {
  await tx.query(`INSERT INTO gc_blob_reviews (digest, queued_at) VALUES ($1, $2) ${UPSERT}`, [digest, now]);
}

/** Queues every blob the manifest references (call before deleting it). */
export async function queueManifestBlobs(tx: Queryable, repositoryId: number, manifestDigest: string, now: number): Promise<void> {
  await tx.query(
    `INSERT INTO gc_blob_reviews (digest, queued_at)
     SELECT DISTINCT child_digest, $1::bigint FROM manifest_references
     WHERE repository_id = $2 AND parent_digest = $3 AND kind = 'blob' ORDER BY 1 ${UPSERT}`,
    [now, repositoryId, manifestDigest],
  );
}

/** Queues every blob linked into or referenced in the repository (call before deleting it). */
export async function queueRepositoryBlobs(tx: Queryable, repositoryId: number, now: number): Promise<void> {
  // Links and references both: a referenced blob may have been unlinked by a blob DELETE.
  await tx.query(
    `INSERT INTO gc_blob_reviews (digest, queued_at)
     SELECT digest, $1::bigint FROM (
       SELECT digest FROM repository_blobs WHERE repository_id = $2
       UNION SELECT child_digest AS digest FROM manifest_references WHERE repository_id = $2 AND kind = 'blob'
     ) AS d ORDER BY 1 ${UPSERT}`,
    [now, repositoryId],
  );
}

/** Restarts the grace period of a queued blob; nothing if it is not queued. Returns rows changed. */
export async function reviveReview(db: Queryable, digest: string, now: number): Promise<number> {
  return changes(db, 'UPDATE gc_blob_reviews SET queued_at = $1 WHERE digest = $2 AND queued_at < $1', [now, digest]);
}

/** Queues a deletion of the digest's bytes when no blob row exists (a marker dropped). */
export async function queueDeletionIfUnrecorded(tx: Queryable, digests: string[], now: number): Promise<void> {
  if (digests.length === 0) return;
  await tx.query(
    `INSERT INTO gc_blob_deletions (digest, state, updated_at)
     SELECT DISTINCT d, 'pending', $2::bigint FROM unnest($1::text[]) AS d
     WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE digest = d) ORDER BY 1
     ON CONFLICT (digest) DO NOTHING`,
    [digests, now],
  );
}

/** Removes an upload-commit marker; its bytes are queued for deletion if no blob row exists. */
export async function dropMarker(tx: Queryable, uploadId: string, now: number): Promise<void> {
  const marker = await one<{ digest: string }>(tx, 'DELETE FROM blob_commits WHERE upload_id = $1 RETURNING digest', [uploadId]);
  // The bytes may have been committed without their row (the node died, or the record failed):
  // a deletion is safe to queue, since any later upload of the digest cancels it, and a claim
  // waits for every other marker of the digest to go.
  if (marker) await queueDeletionIfUnrecorded(tx, [marker.digest], now);
}

/** Cancels a pending deletion (a blob row makes the digest live again). */
export async function cancelPendingDeletion(tx: Queryable, digest: string): Promise<number> {
  return changes(tx, "DELETE FROM gc_blob_deletions WHERE digest = $1 AND state = 'pending'", [digest]);
}
