/**
 * The garbage collector's store on SQLite (see ../gc.ts). Each batch is one IMMEDIATE
 * transaction in which every digest is decided on its own against the references at that
 * instant: batching only saves commits (each one an fsync), it never widens what is decided at once.
 */
import type { Digest } from '../../core/digest.js';
import { storageUsage, type GcStore, type RepositoryUsageRow, type ReviewOutcome } from '../gc.js';
import { createGcQueue } from './gc-queue.js';
import type { Db } from './open.js';
import { storedAccountPrefix } from '../../core/registry-key.js';

export function createSqliteGc(db: Db): GcStore {
  const dueStmt = db.prepare<[number, number], { digest: string }>(
    'SELECT digest FROM gc_blob_reviews WHERE queued_at <= ? ORDER BY queued_at, digest LIMIT ?',
  );
  const allDueStmt = db.prepare<[number], { digest: string }>('SELECT digest FROM gc_blob_reviews WHERE queued_at <= ? ORDER BY digest');
  const referencedStmt = db.prepare<[string], { one: number }>("SELECT 1 AS one FROM manifest_references WHERE child_digest = ? AND kind = 'blob' LIMIT 1");
  const sizeStmt = db.prepare<[string], { size: number }>('SELECT size FROM blobs WHERE digest = ?');
  const dropReview = db.prepare('DELETE FROM gc_blob_reviews WHERE digest = ?');
  // Links left over in repositories whose images no longer use the blob (a layer uploaded to A,
  // referenced only from B): they would keep A's storage accounting and HEADs alive forever.
  const pruneLinks = db.prepare(
    `DELETE FROM repository_blobs WHERE digest = ? AND created_at <= ? AND NOT EXISTS (
       SELECT 1 FROM manifest_references r
       WHERE r.repository_id = repository_blobs.repository_id AND r.child_digest = repository_blobs.digest AND r.kind = 'blob')`,
  );
  const deleteLinks = db.prepare('DELETE FROM repository_blobs WHERE digest = ?');
  const deleteBlob = db.prepare('DELETE FROM blobs WHERE digest = ?');
  const insertDeletion = db.prepare("INSERT INTO gc_blob_deletions (digest, state, updated_at) VALUES (?, 'pending', ?) ON CONFLICT (digest) DO NOTHING");

  const review = db.transaction((dueBefore: number, now: number, limit: number): ReviewOutcome[] => {
    return dueStmt.all(dueBefore, limit).map(({ digest }) => {
      const d = digest as Digest;
      const blob = sizeStmt.get(digest);
      dropReview.run(digest);
      if (!blob) return { digest: d, outcome: 'gone', size: 0 };
      if (referencedStmt.get(digest)) {
        pruneLinks.run(digest, dueBefore);
        return { digest: d, outcome: 'kept', size: blob.size };
      }
      // Invisible from this commit on: HEAD answers 404 and a manifest needing it is refused.
      deleteLinks.run(digest);
      deleteBlob.run(digest);
      insertDeletion.run(digest, now);
      return { digest: d, outcome: 'deleted', size: blob.size };
    });
  });
  const previewReview = db.transaction((dueBefore: number): ReviewOutcome[] =>
    allDueStmt.all(dueBefore).map(({ digest }) => {
      const blob = sizeStmt.get(digest);
      const outcome = !blob ? 'gone' : referencedStmt.get(digest) ? 'kept' : 'deleted';
      return { digest: digest as Digest, outcome, size: blob?.size ?? 0 };
    }),
  );

  const candidatesStmt = db.prepare<[string, number, number], { digest: string }>(
    `SELECT digest FROM gc_blob_deletions WHERE digest > ? AND (state = 'pending' OR updated_at < ?) ORDER BY digest LIMIT ?`,
  );
  // The bytes may go only while nothing can need them: no blob row, no upload committing them.
  const claimStmt = db.prepare(
    `UPDATE gc_blob_deletions SET state = 'deleting', updated_at = ?
     WHERE digest = ? AND (state = 'pending' OR (state = 'deleting' AND updated_at < ?))
       AND NOT EXISTS (SELECT 1 FROM blobs WHERE digest = ?)
       AND NOT EXISTS (SELECT 1 FROM blob_commits WHERE digest = ?)`,
  );
  // A pending deletion of a blob that has a row again is void (the blob is live).
  const voidStmt = db.prepare("DELETE FROM gc_blob_deletions WHERE digest = ? AND state = 'pending' AND EXISTS (SELECT 1 FROM blobs WHERE digest = ?)");
  const finishStmt = db.prepare("DELETE FROM gc_blob_deletions WHERE digest = ? AND state = 'deleting'");
  const countDeletionsStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM gc_blob_deletions');
  const claim = db.transaction((after: string, now: number, staleBefore: number, limit: number) => {
    const rows = candidatesStmt.all(after, staleBefore, limit);
    const claimed: Digest[] = [];
    for (const { digest } of rows) {
      if (claimStmt.run(now, digest, staleBefore, digest, digest).changes > 0) claimed.push(digest as Digest);
      else voidStmt.run(digest, digest);
    }
    return { claimed, next: rows.length < limit ? undefined : rows[rows.length - 1]!.digest };
  });
  const finish = db.transaction((digests: Digest[]) => {
    for (const d of digests) finishStmt.run(d);
  });

  const staleMarkersStmt = db.prepare<[number], { upload_id: string }>('SELECT upload_id FROM blob_commits WHERE started_at < ?');
  const queue = createGcQueue(db);
  const reclaimMarkers = db.transaction((staleBefore: number, now: number): number => {
    const stale = staleMarkersStmt.all(staleBefore);
    for (const m of stale) queue.dropMarker(m.upload_id, now);
    return stale.length;
  });

  const idleStmt = db.prepare<[number, number], { id: string }>('SELECT id FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?');
  const deleteIdleStmt = db.prepare('DELETE FROM uploads WHERE id = ? AND updated_at < ?');
  const uploadExists = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM uploads WHERE id = ?');

  // The account filter keeps to one account's registries (see storedAccountPrefix).
  const where = (filtered: boolean) => (filtered ? 'WHERE r.registry_id LIKE ?' : '');
  const repoUsageStmts = [false, true].map((f) =>
    db.prepare<unknown[], RepositoryUsageRow>(
      `SELECT r.registry_id, r.name,
         (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS images,
         COUNT(b.digest) AS blobs, COALESCE(SUM(b.size), 0) AS bytes
       FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
       ${where(f)} GROUP BY r.id, r.registry_id, r.name ORDER BY r.registry_id, r.name`,
    ),
  );
  const distinctStmts = [false, true].map((f) =>
    db.prepare<unknown[], { registry_id: string; blobs: number; bytes: number }>(
      `SELECT d.registry_id, COUNT(*) AS blobs, COALESCE(SUM(b.size), 0) AS bytes
       FROM (SELECT DISTINCT r.registry_id, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id ${where(f)}) d
       JOIN blobs b ON b.digest = d.digest GROUP BY d.registry_id`,
    ),
  );
  const storedStmt = db.prepare<[], { blobs: number; bytes: number }>('SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM blobs');
  const usage = db.transaction((accountId: string | undefined) => {
    const args = accountId === undefined ? [] : [`${storedAccountPrefix(accountId)}%`];
    const f = accountId === undefined ? 0 : 1;
    return storageUsage(repoUsageStmts[f]!.all(...args), distinctStmts[f]!.all(...args), storedStmt.get()!);
  });

  return {
    async review(dueBefore, now, limit) {
      return review.immediate(dueBefore.getTime(), now.getTime(), limit);
    },
    async previewReview(dueBefore) {
      return previewReview.deferred(dueBefore.getTime());
    },
    async claimDeletions(after, now, staleBefore, limit) {
      const r = claim.immediate(after, now.getTime(), staleBefore.getTime(), limit);
      return r.next === undefined ? { claimed: r.claimed } : { claimed: r.claimed, next: r.next };
    },
    async finishDeletions(digests) {
      if (digests.length > 0) finish.immediate(digests);
    },
    async countDeletions() {
      return countDeletionsStmt.get()!.n;
    },
    async reclaimCommitMarkers(staleBefore, now) {
      return reclaimMarkers.immediate(staleBefore.getTime(), now.getTime());
    },
    async idleUploads(idleBefore, limit) {
      return idleStmt.all(idleBefore.getTime(), limit).map((r) => r.id);
    },
    async deleteIdleUpload(id, idleBefore) {
      return deleteIdleStmt.run(id, idleBefore.getTime()).changes > 0;
    },
    async existingUploads(ids) {
      return new Set(ids.filter((id) => uploadExists.get(id)));
    },
    async usage(accountId) {
      return usage.deferred(accountId);
    },
  };
}
