/**
 * The blob index on PostgreSQL (the twin of ../sqlite/blobs.ts): verified blobs, their links into
 * repositories, and the garbage collector's bookkeeping that changes in the same transactions.
 * Every write takes the digest's review row first (queueing it), then the blob row: the order a
 * reviewer uses, so a writer and a reviewer of the same digest wait for each other, never deadlock.
 */
import type { Digest } from '../../core/digest.js';
import { registryKeyText } from '../../core/registry-key.js';
import { GC_REVIVE_COALESCE_MS } from '../gc.js';
import { layerArchivedSql } from '../archive-sql.js';
import type { StorageClass } from '../archive.js';
import type { BlobIndex, BlobRecord, BlobStat } from '../types.js';
import { cancelPendingDeletion, dropMarker, queueReview, reviveReview } from './gc-queue.js';
import { changes, LOCK_NAMESPACE, digestLockKey, one, Rollback, rows, withTransaction, type PgContext } from './pool.js';

interface Row {
  digest: string;
  size: number;
  created_at: number;
}

const toBlob = (r: Row): BlobRecord => ({ digest: r.digest as Digest, size: r.size, createdAt: new Date(r.created_at) });

/**
 * A client's HEAD or GET: the blob, whether it is queued for review, whether the repository's
 * clients may read it and its storage class, in one round trip: ($1 repository id, $2 digest).
 */
const STAT_SQL = `SELECT b.digest, b.size, b.created_at, b.storage_class,
  (SELECT g.queued_at FROM gc_blob_reviews g WHERE g.digest = $2) AS queued_at,
  (${layerArchivedSql('$1', '$2')}) AS archived
  FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = $1 AND rb.digest = $2`;

type StatRow = Row & { storage_class: string; queued_at: number | null; archived: boolean };

const toStat = (r: StatRow): BlobStat => ({
  ...toBlob(r),
  layerAccess: r.archived ? 'archived' : 'readable',
  storageClass: r.storage_class as StorageClass,
});

export function createPostgresBlobIndex({ pool }: PgContext): BlobIndex {
  async function findInRepository(repositoryId: number, digest: string): Promise<BlobRecord | undefined> {
    const r = await one<Row>(
      pool,
      `SELECT b.digest, b.size, b.created_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
       WHERE rb.repository_id = $1 AND rb.digest = $2`,
      [repositoryId, digest],
    );
    return r && toBlob(r);
  }

  return {
    async find(digest) {
      const r = await one<Row>(pool, 'SELECT digest, size, created_at FROM blobs WHERE digest = $1', [digest]);
      return r && toBlob(r);
    },
    findInRepository,
    async repositoriesWith(registryKey, digest, limit) {
      const found = await rows<{ name: string }>(
        pool,
        `SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
         WHERE rb.digest = $1 AND r.registry_id = $2 ORDER BY r.name LIMIT $3`,
        [digest, registryKeyText(registryKey), limit],
      );
      return found.map((r) => r.name);
    },
    async stat(repositoryId, digest, now) {
      const r = await one<StatRow>(pool, STAT_SQL, [repositoryId, digest]);
      if (!r) return undefined;
      // A write only when the blob is queued, and at most once a second per blob: HEAD stays a read.
      const t = now.getTime();
      if (r.queued_at !== null && r.queued_at < t - GC_REVIVE_COALESCE_MS) {
        // A reviewer deciding this blob holds its review row: the revive waits for it, then finds
        // the row gone. The review may have deleted the blob after our read, so look again: a
        // client told "present" must be able to reference it (SQLite's serial order gives that).
        if ((await reviveReview(pool, digest, t)) === 0) {
          const again = await one<StatRow>(pool, STAT_SQL, [repositoryId, digest]);
          return again && toStat(again);
        }
      }
      return toStat(r);
    },
    async beginCommit(uploadId, digest, now, staleBefore) {
      return withTransaction(pool, async (tx) => {
        // The digest's deletion lock (claims try it without waiting, see gc.ts): from here to
        // commit no deletion of this digest can be claimed, even one queued after we looked.
        await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE.digest, digestLockKey(digest)]);
        // FOR UPDATE: the row stays as read until we delete it (a review may be writing it).
        const deletion = await one<{ state: string; updated_at: number }>(tx, 'SELECT state, updated_at FROM gc_blob_deletions WHERE digest = $1 FOR UPDATE', [
          digest,
        ]);
        // A live worker is deleting the bytes right now: the caller waits and retries, then commits
        // its own copy. A pending (or abandoned) deletion is cancelled; the bytes it meant stay.
        if (deletion?.state === 'deleting' && deletion.updated_at >= staleBefore.getTime()) return 'busy';
        if (deletion) await tx.query('DELETE FROM gc_blob_deletions WHERE digest = $1', [digest]);
        await tx.query(
          `INSERT INTO blob_commits (upload_id, digest, started_at) VALUES ($1, $2, $3)
           ON CONFLICT (upload_id) DO UPDATE SET digest = excluded.digest, started_at = excluded.started_at`,
          [uploadId, digest, now.getTime()],
        );
        return 'ok';
      });
    },
    async releaseCommit(uploadId, now) {
      await withTransaction(pool, (tx) => dropMarker(tx, uploadId, now.getTime()));
    },
    async record(repositoryId, blob, now, uploadId) {
      const t = now.getTime();
      await withTransaction(pool, async (tx) => {
        // Queued even when referenced already: an upload nobody references must be reclaimed too.
        // First, because it also shuts reviewers of this digest out until we commit.
        await queueReview(tx, blob.digest, t);
        await tx.query('INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [blob.digest, blob.size, t]);
        await tx.query('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
          repositoryId,
          blob.digest,
          t,
        ]);
        // The marker before the deletion row: the order marker reclaims take them in.
        if (uploadId !== undefined) await tx.query('DELETE FROM blob_commits WHERE upload_id = $1', [uploadId]);
        // A deletion queued while this upload was committing is void: the blob row makes it live.
        await cancelPendingDeletion(tx, blob.digest);
      });
    },
    async link(repositoryId, digest, now) {
      const t = now.getTime();
      return withTransaction(pool, async (tx) => {
        if (!(await one(tx, 'SELECT 1 FROM blobs WHERE digest = $1', [digest]))) return undefined;
        // Revives a queued blob, and queues one that was not: a mount never followed by a
        // manifest leaves a link that only a review removes. Review row first (the lock order)...
        await queueReview(tx, digest, t);
        // ...then the blob row, re-read under a key-share lock: a review that deleted it between
        // our first look and the queueing has committed by now, and we report it unknown.
        const blob = await one<Row>(tx, 'SELECT digest, size, created_at FROM blobs WHERE digest = $1 FOR KEY SHARE', [digest]);
        if (!blob) throw new Rollback(undefined);
        await tx.query('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
          repositoryId,
          digest,
          t,
        ]);
        return toBlob(blob);
      });
    },
    async unlink(repositoryId, digest, now) {
      return withTransaction(pool, async (tx) => {
        // The review row before the link row, as a reviewer (which deletes links) takes them.
        await queueReview(tx, digest, now.getTime());
        const n = await changes(tx, 'DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2', [repositoryId, digest]);
        if (n === 0) throw new Rollback(false);
        return true;
      });
    },
  };
}
