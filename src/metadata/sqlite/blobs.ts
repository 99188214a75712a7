/**
 * The blob index on SQLite: which verified blobs exist and which repositories they are linked
 * into, and the garbage collector's bookkeeping that must change in the same transactions
 * (queueing reviews, reviving queued blobs, upload-commit markers; see ../gc.ts).
 */
import type { Digest } from '../../core/digest.js';
import { registryKeyText } from '../../core/registry-key.js';
import { GC_REVIVE_COALESCE_MS } from '../gc.js';
import type { StorageClass } from '../archive.js';
import type { BlobIndex, BlobRecord } from '../types.js';
import { LAYER_ARCHIVED_SQL } from './archive.js';
import type { Db } from './open.js';
import { createGcQueue } from './gc-queue.js';

interface Row {
  digest: string;
  size: number;
  created_at: number;
}

const toBlob = (r: Row): BlobRecord => ({ digest: r.digest as Digest, size: r.size, createdAt: new Date(r.created_at) });

// Digest-keyed reads name one table and ask for the link in a scalar subquery, never a join: this
// SQLite (better-sqlite3's build) re-prepares a statement that joins tables with bound parameters
// at every execution (sqlite3Reprepare under each step, seen in gdb): 20-30 µs a lookup against
// 5-8. sqlite-query-shapes.test.ts holds the shape.
/** A blob linked into a repository: (digest, repository id, digest). */
export const BLOB_IN_REPOSITORY_SQL = `SELECT digest, size, created_at FROM blobs
  WHERE digest = ? AND (SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?) IS NOT NULL`;
/**
 * A client's HEAD or GET: the blob and, in the same statement, whether it is queued for review,
 * whether the repository's clients may read it, and its storage class: (@repo, @digest).
 */
export const BLOB_STAT_SQL = `SELECT digest, size, created_at, storage_class,
  (SELECT queued_at FROM gc_blob_reviews WHERE digest = @digest) AS queued_at,
  (${LAYER_ARCHIVED_SQL}) AS archived
  FROM blobs WHERE digest = @digest AND (SELECT 1 FROM repository_blobs WHERE repository_id = @repo AND digest = @digest) IS NOT NULL`;

export function createSqliteBlobIndex(db: Db): BlobIndex {
  const findStmt = db.prepare<[string], Row>('SELECT digest, size, created_at FROM blobs WHERE digest = ?');
  const findInRepoStmt = db.prepare<[string, number, string], Row>(BLOB_IN_REPOSITORY_SQL);
  const linkedByStmt = db.prepare<[string, string, number], { name: string }>(
    'SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ? AND r.registry_id = ? ORDER BY r.name LIMIT ?',
  );
  const insertBlob = db.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const insertLink = db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const deleteLink = db.prepare('DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?');
  const statStmt = db.prepare<[{ repo: number; digest: string }], Row & { storage_class: string; queued_at: number | null; archived: number }>(BLOB_STAT_SQL);
  const deletionStmt = db.prepare<[string], { state: string; updated_at: number }>('SELECT state, updated_at FROM gc_blob_deletions WHERE digest = ?');
  const cancelDeletion = db.prepare('DELETE FROM gc_blob_deletions WHERE digest = ?');
  const cancelPendingDeletion = db.prepare("DELETE FROM gc_blob_deletions WHERE digest = ? AND state = 'pending'");
  const insertMarker = db.prepare(
    `INSERT INTO blob_commits (upload_id, digest, started_at) VALUES (?, ?, ?)
     ON CONFLICT (upload_id) DO UPDATE SET digest = excluded.digest, started_at = excluded.started_at`,
  );
  const deleteMarker = db.prepare('DELETE FROM blob_commits WHERE upload_id = ?');
  const gc = createGcQueue(db);

  const record = db.transaction((repositoryId: number, digest: string, size: number, now: number, uploadId: string | undefined) => {
    insertBlob.run(digest, size, now);
    insertLink.run(repositoryId, digest, now);
    // Queued even when referenced already: an upload nobody references must be reclaimed too.
    gc.queue(digest, now);
    // A deletion queued while this upload was committing is void: the blob row makes it live.
    cancelPendingDeletion.run(digest);
    if (uploadId !== undefined) deleteMarker.run(uploadId);
  });
  const link = db.transaction((repositoryId: number, digest: string, now: number): Row | undefined => {
    const blob = findStmt.get(digest);
    if (blob) {
      insertLink.run(repositoryId, digest, now);
      // Revives a queued blob, and queues one that was not: a mount never followed by a
      // manifest leaves a link that only a review removes.
      gc.queue(digest, now);
    }
    return blob;
  });
  const unlink = db.transaction((repositoryId: number, digest: string, now: number): boolean => {
    if (deleteLink.run(repositoryId, digest).changes === 0) return false;
    gc.queue(digest, now);
    return true;
  });
  const beginCommit = db.transaction((uploadId: string, digest: string, now: number, staleBefore: number): 'ok' | 'busy' => {
    const deletion = deletionStmt.get(digest);
    // A live worker is deleting the bytes right now: the caller waits and retries, then commits
    // its own copy. A pending (or abandoned) deletion is cancelled; the bytes it meant stay.
    if (deletion?.state === 'deleting' && deletion.updated_at >= staleBefore) return 'busy';
    if (deletion) cancelDeletion.run(digest);
    insertMarker.run(uploadId, digest, now);
    return 'ok';
  });
  const releaseCommit = db.transaction((uploadId: string, now: number) => {
    gc.dropMarker(uploadId, now);
  });

  return {
    async find(digest) {
      const r = findStmt.get(digest);
      return r && toBlob(r);
    },
    async findInRepository(repositoryId, digest) {
      const r = findInRepoStmt.get(digest, repositoryId, digest);
      return r && toBlob(r);
    },
    async repositoriesWith(registryKey, digest, limit) {
      return linkedByStmt.all(digest, registryKeyText(registryKey), limit).map((r) => r.name);
    },
    async stat(repositoryId, digest, now) {
      const r = statStmt.get({ repo: repositoryId, digest });
      if (!r) return undefined;
      // A write only when the blob is queued, and at most once a second per blob: HEAD stays a read.
      const t = now.getTime();
      if (r.queued_at !== null && r.queued_at < t - GC_REVIVE_COALESCE_MS) gc.revive(digest, t);
      return { ...toBlob(r), layerAccess: r.archived === 1 ? 'archived' : 'readable', storageClass: r.storage_class as StorageClass };
    },
    async beginCommit(uploadId, digest, now, staleBefore) {
      return beginCommit.immediate(uploadId, digest, now.getTime(), staleBefore.getTime());
    },
    async releaseCommit(uploadId, now) {
      releaseCommit.immediate(uploadId, now.getTime());
    },
    async record(repositoryId, blob, now, uploadId) {
      record.immediate(repositoryId, blob.digest, blob.size, now.getTime(), uploadId);
    },
    async link(repositoryId, digest, now) {
      const r = link.immediate(repositoryId, digest, now.getTime());
      return r && toBlob(r);
    },
    async unlink(repositoryId, digest, now) {
      return unlink.immediate(repositoryId, digest, now.getTime());
    },
  };
}
