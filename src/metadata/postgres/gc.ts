/**
 * The garbage collector's store on PostgreSQL (the twin of ../sqlite/gc.ts), safe with any
 * number of nodes collecting at once. READ COMMITTED plus row locks, chosen per operation:
 *
 *  - review: the due review rows are taken FOR UPDATE SKIP LOCKED, so concurrent reviewers split
 *    the queue instead of deciding a digest twice, and a writer queueing that digest (which
 *    upserts the same row) waits or is skipped. Then the blob rows are locked FOR UPDATE, in
 *    digest order, and only then are references read, in a fresh snapshot: a manifest put holds
 *    FOR KEY SHARE on the blob rows it needs until it commits, so every reference either is
 *    visible to the check or will be refused because the row is gone. Each digest is still
 *    decided alone against the references at that instant; a batch only shares the commit.
 *  - claim: deletion rows are taken FOR UPDATE SKIP LOCKED; then, per digest, the digest's
 *    advisory lock is *tried* (an upload's beginCommit holds it while it cancels deletions and
 *    writes its commit marker), and the blob-row and marker checks run after that, in a fresh
 *    snapshot, so a marker committed a moment ago is seen. Trying rather than waiting means a
 *    claim never waits on anything and cannot be part of a deadlock; a busy digest is left for
 *    the next pass.
 *  - reads spanning several statements (preview, usage) run in one REPEATABLE READ READ ONLY
 *    snapshot, so their numbers agree with each other.
 */
import type { Digest } from '../../core/digest.js';
import { storageUsage, type GcStore, type RepositoryUsageRow, type ReviewOutcome } from '../gc.js';
import { queueDeletionIfUnrecorded } from './gc-queue.js';
import { changes, digestLockKey, LOCK_NAMESPACE, one, rows, withTransaction, type PgContext, type Queryable } from './pool.js';
import { storedAccountPrefix } from '../../core/registry-key.js';

const READ_SNAPSHOT = { isolation: 'REPEATABLE READ', readOnly: true } as const;

async function referenced(tx: Queryable, digests: string[]): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const found = await rows<{ d: string }>(
    tx,
    "SELECT DISTINCT child_digest AS d FROM manifest_references WHERE child_digest = ANY($1::text[]) AND kind = 'blob'",
    [digests],
  );
  return new Set(found.map((r) => r.d));
}

export function createPostgresGc({ pool, collate }: PgContext): GcStore {
  async function review(tx: Queryable, dueBefore: number, now: number, limit: number): Promise<ReviewOutcome[]> {
    const due = (
      await rows<{ digest: string }>(
        tx,
        'SELECT digest FROM gc_blob_reviews WHERE queued_at <= $1 ORDER BY queued_at, digest LIMIT $2 FOR UPDATE SKIP LOCKED',
        [dueBefore, limit],
      )
    ).map((r) => r.digest);
    if (due.length === 0) return [];
    await tx.query('DELETE FROM gc_blob_reviews WHERE digest = ANY($1::text[])', [due]);
    // Digest order: the order a manifest put locks blob rows in, so the two never deadlock.
    const sizes = new Map(
      (await rows<{ digest: string; size: number }>(tx, 'SELECT digest, size FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest FOR UPDATE', [due])).map(
        (r) => [r.digest, r.size],
      ),
    );
    const refs = await referenced(tx, [...sizes.keys()]);
    const kept = [...sizes.keys()].filter((d) => refs.has(d));
    const unreferenced = [...sizes.keys()].filter((d) => !refs.has(d));
    if (kept.length > 0) {
      // Links left over in repositories whose images no longer use the blob (a layer uploaded to
      // A, referenced only from B): they would keep A's storage accounting and HEADs alive forever.
      await tx.query(
        `DELETE FROM repository_blobs rb WHERE rb.digest = ANY($1::text[]) AND rb.created_at <= $2 AND NOT EXISTS (
           SELECT 1 FROM manifest_references r WHERE r.repository_id = rb.repository_id AND r.child_digest = rb.digest AND r.kind = 'blob')`,
        [kept, dueBefore],
      );
    }
    if (unreferenced.length > 0) {
      // Invisible from this commit on: HEAD answers 404 and a manifest needing it is refused.
      await tx.query('DELETE FROM repository_blobs WHERE digest = ANY($1::text[])', [unreferenced]);
      await tx.query('DELETE FROM blobs WHERE digest = ANY($1::text[])', [unreferenced]);
      await tx.query(
        `INSERT INTO gc_blob_deletions (digest, state, updated_at) SELECT d, 'pending', $2::bigint FROM unnest($1::text[]) AS d ORDER BY 1
         ON CONFLICT (digest) DO NOTHING`,
        [unreferenced, now],
      );
    }
    return due.map((digest): ReviewOutcome => {
      const size = sizes.get(digest);
      if (size === undefined) return { digest: digest as Digest, outcome: 'gone', size: 0 };
      return { digest: digest as Digest, outcome: refs.has(digest) ? 'kept' : 'deleted', size };
    });
  }

  async function claim(tx: Queryable, after: string, now: number, staleBefore: number, limit: number) {
    const candidates = (
      await rows<{ digest: string }>(
        tx,
        `SELECT digest FROM gc_blob_deletions WHERE digest${collate} > $1 AND (state = 'pending' OR updated_at < $2)
         ORDER BY digest${collate} LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [after, staleBefore, limit],
      )
    ).map((r) => r.digest);
    if (candidates.length === 0) return { claimed: [] };
    // The statement that takes the advisory locks comes before the checks: they then read a
    // snapshot taken after any beginCommit that held a lock has committed.
    const free = (
      await rows<{ d: string }>(tx, 'SELECT d FROM unnest($1::text[], $2::int[]) AS c(d, k) WHERE pg_try_advisory_xact_lock($3, k)', [
        candidates,
        candidates.map(digestLockKey),
        LOCK_NAMESPACE.digest,
      ])
    ).map((r) => r.d);
    // The bytes may go only while nothing can need them: no blob row, no upload committing them.
    const claimed = (
      await rows<{ digest: string }>(
        tx,
        `UPDATE gc_blob_deletions SET state = 'deleting', updated_at = $2
         WHERE digest = ANY($1::text[]) AND (state = 'pending' OR (state = 'deleting' AND updated_at < $3))
           AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = gc_blob_deletions.digest)
           AND NOT EXISTS (SELECT 1 FROM blob_commits c WHERE c.digest = gc_blob_deletions.digest)
         RETURNING digest`,
        [free, now, staleBefore],
      )
    ).map((r) => r.digest as Digest);
    // A pending deletion of a blob that has a row again is void (the blob is live).
    await tx.query(
      `DELETE FROM gc_blob_deletions WHERE digest = ANY($1::text[]) AND state = 'pending'
       AND EXISTS (SELECT 1 FROM blobs b WHERE b.digest = gc_blob_deletions.digest)`,
      [free],
    );
    const order = new Map(candidates.map((d, i) => [d, i]));
    claimed.sort((a, b) => order.get(a)! - order.get(b)!);
    const last = candidates[candidates.length - 1];
    return candidates.length < limit || last === undefined ? { claimed } : { claimed, next: last };
  }

  async function usage(tx: Queryable, accountId: string | undefined) {
    // The account filter keeps to one account's registries (see storedAccountPrefix).
    const filter = accountId === undefined ? '' : 'WHERE r.registry_id LIKE $1';
    const args = accountId === undefined ? [] : [`${storedAccountPrefix(accountId).replace(/[\\%_]/g, '\\$&')}%`];
    const perRepo = await rows<RepositoryUsageRow>(
      tx,
      `SELECT r.registry_id, r.name,
         (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS images,
         COUNT(b.digest) AS blobs, COALESCE(SUM(b.size), 0)::bigint AS bytes
       FROM repositories r LEFT JOIN repository_blobs rb ON rb.repository_id = r.id LEFT JOIN blobs b ON b.digest = rb.digest
       ${filter} GROUP BY r.id, r.registry_id, r.name ORDER BY r.registry_id${collate}, r.name${collate}`,
      args,
    );
    const distinct = await rows<{ registry_id: string; blobs: number; bytes: number }>(
      tx,
      `SELECT d.registry_id, COUNT(*) AS blobs, COALESCE(SUM(b.size), 0)::bigint AS bytes
       FROM (SELECT DISTINCT r.registry_id, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id ${filter}) d
       JOIN blobs b ON b.digest = d.digest GROUP BY d.registry_id`,
      args,
    );
    const stored = (await one<{ blobs: number; bytes: number }>(tx, 'SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0)::bigint AS bytes FROM blobs'))!;
    return storageUsage(perRepo, distinct, stored);
  }

  return {
    async review(dueBefore, now, limit) {
      return withTransaction(pool, (tx) => review(tx, dueBefore.getTime(), now.getTime(), limit));
    },
    async previewReview(dueBefore) {
      return withTransaction(
        pool,
        async (tx) => {
          const due = (
            await rows<{ digest: string }>(tx, `SELECT digest FROM gc_blob_reviews WHERE queued_at <= $1 ORDER BY digest${collate}`, [dueBefore.getTime()])
          ).map((r) => r.digest);
          const sizes = new Map(
            (await rows<{ digest: string; size: number }>(tx, 'SELECT digest, size FROM blobs WHERE digest = ANY($1::text[])', [due])).map((r) => [
              r.digest,
              r.size,
            ]),
          );
          const refs = await referenced(tx, [...sizes.keys()]);
          return due.map((digest): ReviewOutcome => {
            const size = sizes.get(digest);
            const outcome = size === undefined ? 'gone' : refs.has(digest) ? 'kept' : 'deleted';
            return { digest: digest as Digest, outcome, size: size ?? 0 };
          });
        },
        READ_SNAPSHOT,
      );
    },
    async claimDeletions(after, now, staleBefore, limit) {
      return withTransaction(pool, (tx) => claim(tx, after, now.getTime(), staleBefore.getTime(), limit));
    },
    async finishDeletions(digests) {
      if (digests.length === 0) return;
      await pool.query("DELETE FROM gc_blob_deletions WHERE digest = ANY($1::text[]) AND state = 'deleting'", [digests]);
    },
    async countDeletions() {
      return (await one<{ n: number }>(pool, 'SELECT COUNT(*) AS n FROM gc_blob_deletions'))!.n;
    },
    async reclaimCommitMarkers(staleBefore, now) {
      return withTransaction(pool, async (tx) => {
        const stale = await rows<{ digest: string }>(tx, 'DELETE FROM blob_commits WHERE started_at < $1 RETURNING digest', [staleBefore.getTime()]);
        await queueDeletionIfUnrecorded(
          tx,
          stale.map((m) => m.digest),
          now.getTime(),
        );
        return stale.length;
      });
    },
    async idleUploads(idleBefore, limit) {
      const found = await rows<{ id: string }>(pool, 'SELECT id FROM uploads WHERE updated_at < $1 ORDER BY updated_at, id LIMIT $2', [
        idleBefore.getTime(),
        limit,
      ]);
      return found.map((r) => r.id);
    },
    async deleteIdleUpload(id, idleBefore) {
      return (await changes(pool, 'DELETE FROM uploads WHERE id = $1 AND updated_at < $2', [id, idleBefore.getTime()])) > 0;
    },
    async existingUploads(ids) {
      if (ids.length === 0) return new Set();
      return new Set((await rows<{ id: string }>(pool, 'SELECT id FROM uploads WHERE id = ANY($1::text[])', [ids])).map((r) => r.id));
    },
    async usage(accountId) {
      return withTransaction(pool, (tx) => usage(tx, accountId), READ_SNAPSHOT);
    },
  };
}
