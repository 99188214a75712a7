/**
 * The statements that feed the garbage collector, shared by the stores whose changes can leave
 * a blob unreferenced. They run inside the caller's transaction (design decision 3: a blob is
 * queued in the same transaction as the change), so none of them opens one.
 */
import type { Db } from './open.js';

export interface GcQueue {
  /** Queues a blob for review at `now`; an earlier queueing is pushed back to `now`. */
  queue(digest: string, now: number): void;
  /** Queues every blob the manifest references (call before deleting it). */
  queueManifestBlobs(repositoryId: number, manifestDigest: string, now: number): void;
  /** Queues every blob linked into or referenced in the repository (call before deleting it). */
  queueRepositoryBlobs(repositoryId: number, now: number): void;
  /** Restarts the grace period of a queued blob; nothing if it is not queued. */
  revive(digest: string, now: number): void;
  /** Removes an upload-commit marker; its bytes are queued for deletion if no blob row exists. */
  dropMarker(uploadId: string, now: number): void;
}

// The last event wins: a blob's grace period runs from the latest reason to look at it.
const UPSERT = 'ON CONFLICT (digest) DO UPDATE SET queued_at = excluded.queued_at';

export function createGcQueue(db: Db): GcQueue {
  const queueStmt = db.prepare(`INSERT INTO gc_blob_reviews (digest, queued_at) VALUES (?, ?) ${UPSERT}`);
  const queueManifestStmt = db.prepare(
    `INSERT INTO gc_blob_reviews (digest, queued_at)
     SELECT child_digest, ? FROM manifest_references WHERE repository_id = ? AND parent_digest = ? AND kind = 'blob' ${UPSERT}`,
  );
  // Links and references both: a referenced blob may have been unlinked by a blob DELETE.
  const queueRepositoryStmt = db.prepare(
    `INSERT INTO gc_blob_reviews (digest, queued_at)
     SELECT digest, ? FROM (
       SELECT digest FROM repository_blobs WHERE repository_id = ?
       UNION SELECT child_digest AS digest FROM manifest_references WHERE repository_id = ? AND kind = 'blob'
     ) AS d WHERE true ${UPSERT}`,
  );
  const reviveStmt = db.prepare('UPDATE gc_blob_reviews SET queued_at = ? WHERE digest = ? AND queued_at < ?');
  const markerStmt = db.prepare<[string], { digest: string }>('SELECT digest FROM blob_commits WHERE upload_id = ?');
  const deleteMarker = db.prepare('DELETE FROM blob_commits WHERE upload_id = ?');
  const hasBlob = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM blobs WHERE digest = ?');
  const insertDeletion = db.prepare("INSERT INTO gc_blob_deletions (digest, state, updated_at) VALUES (?, 'pending', ?) ON CONFLICT (digest) DO NOTHING");
  return {
    queue(digest, now) {
      queueStmt.run(digest, now);
    },
    queueManifestBlobs(repositoryId, manifestDigest, now) {
      queueManifestStmt.run(now, repositoryId, manifestDigest);
    },
    queueRepositoryBlobs(repositoryId, now) {
      queueRepositoryStmt.run(now, repositoryId, repositoryId);
    },
    revive(digest, now) {
      reviveStmt.run(now, digest, now);
    },
    dropMarker(uploadId, now) {
      const marker = markerStmt.get(uploadId);
      if (!marker) return;
      deleteMarker.run(uploadId);
      // The bytes may have been committed without their row (the node died, or the record
      // failed): a deletion is safe to queue, since any later upload of the digest cancels it.
      if (!hasBlob.get(marker.digest)) insertDeletion.run(marker.digest, now);
    },
  };
}
