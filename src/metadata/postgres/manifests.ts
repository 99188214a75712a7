/**
 * Manifests on PostgreSQL (the twin of ../sqlite/manifests.ts). A put checks every reference and
 * writes the manifest, its reference rows, its tag and its scan job in one READ COMMITTED
 * transaction that locks what it relies on, in the store-wide order (postgres-store.ts):
 *
 *  - the repository row, FOR KEY SHARE: a repository delete (FOR UPDATE) waits for the put, or
 *    the put, having waited, finds the repository gone;
 *  - the referenced blob rows, FOR KEY SHARE, in digest order: a GC review locks the blob row
 *    FOR UPDATE before it re-checks references, so either the review sees our references
 *    (committed) and keeps the blob, or we see its verdict (row gone) and refuse. The links are
 *    checked after the locks, in a fresh snapshot, for the same reason;
 *  - the child manifest rows, FOR KEY SHARE: a concurrent delete of a child waits or wins;
 *  - the tags, in name order, each by an upsert whose WHERE refuses to move an immutable tag: two
 *    puts racing for one tag serialize on the tag row inside PostgreSQL, and the loser sees the
 *    winner's digest.
 *
 * A delete locks the manifest row FOR UPDATE before it looks for indexes listing it, and that
 * lock conflicts with the put's FOR KEY SHARE on its children: either the index's put commits
 * first and the delete, having waited, sees its reference rows (a fresh snapshot per statement)
 * and refuses, or the delete commits first and the put, having waited, finds the child gone.
 *
 * Row locks rather than SERIALIZABLE: contention here is real (a CI fleet pushing tags that
 * share base layers), and a lock costs the loser a short wait where SSI would abort a
 * transaction that carries up to 4 MiB of payload and make it start over.
 */
import type { Digest } from '../../core/digest.js';
import type {
  DeleteManifestResult,
  ImageDeleteRequest,
  ImageDeleteResult,
  ImageExpiryResult,
  ManifestStore,
  PutManifestInput,
  PutManifestResult,
  ReferrerRecord,
  RemovalEvents,
} from '../types.js';
import { writeEventsIn, writeRemovalEventsIn } from './events.js';
import { referrerClosureSql, resolveImage, tagsUnchanged } from '../image-deletes.js';
import { deleteSigningStatusesSql, signingStatusPrefix, statusNameRange } from '../signing-statuses.js';
import { sizeMismatch, toManifest, type ManifestRow as Row } from '../manifest-rows.js';
import { queueManifestBlobs } from './gc-queue.js';
import { one, rows, Rollback, withTransaction, type PgContext, type Queryable } from './pool.js';
import { startScanIn } from './scans.js';
import { enqueueIn } from './jobs.js';
import { startReplicationIn } from './replication.js';
import { checkManifestCounts, checkRepositoryCount, checkTagCount, lockImageTags } from './quota-locks.js';
import { registryKeyText } from '../../core/registry-key.js';
import { REPOSITORY_COLUMNS, toRepository, type RepositoryRow } from './repositories.js';

const COLUMNS =
  'm.repository_id, m.digest, m.media_type, m.size, m.payload, m.artifact_type, m.subject_digest, m.annotations, m.pushed_at, m.image_status, m.archived_at, m.activated_at';

/** A manifest GET's lookup: a repository's columns, then one of its manifest's (all NULL when it has none by that name). */
const LOOKUP_COLUMNS = `${REPOSITORY_COLUMNS.split(', ')
  .map((c) => `r.${c}`)
  .join(', ')}, ${COLUMNS}`;
type LookupRow = RepositoryRow & { [K in keyof Row]: Row[K] | null };

const sorted = (ds: Digest[]): string[] => [...new Set(ds)].sort();

async function lockRepository(tx: Queryable, input: PutManifestInput, now: number): Promise<number | undefined> {
  const find = () =>
    one<{ id: number }>(tx, 'SELECT id FROM repositories WHERE registry_id = $1 AND name = $2 FOR KEY SHARE', [
      registryKeyText(input.registryKey),
      input.repository,
    ]);
  const found = await find();
  if (found) return found.id;
  if (!input.createRepository) return undefined;
  if (input.limits?.repositoriesPerRegistry !== undefined) {
    await checkRepositoryCount(tx, registryKeyText(input.registryKey), input.limits.repositoriesPerRegistry);
    // Under the quota lock: a racing first push of this name that committed is found, not counted twice.
    const raced = await find();
    if (raced) return raced.id;
  }
  // Two first pushes may race: the loser's insert waits for the winner and does nothing, and
  // the lookup after it (a new snapshot) finds the winner's row.
  await tx.query('INSERT INTO repositories (registry_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    registryKeyText(input.registryKey),
    input.repository,
    now,
  ]);
  return (await find())?.id;
}

/** The digests of `digests` the query finds, each with its size. */
async function digestsIn(tx: Queryable, sql: string, repositoryId: number, digests: string[]): Promise<Map<string, number>> {
  return new Map((await rows<{ digest: string; size: number }>(tx, sql, [repositoryId, digests])).map((r) => [r.digest, Number(r.size)]));
}

async function put(tx: Queryable, input: PutManifestInput): Promise<PutManifestResult> {
  const now = input.now.getTime();
  const repositoryId = await lockRepository(tx, input, now);
  if (repositoryId === undefined) return { kind: 'repositoryUnknown' };

  // The blob rows first, then the links, read after the locks are held (see the file comment).
  const blobs = sorted(input.blobs);
  const children = sorted(input.manifests);
  let linked = new Map<string, number>();
  let present = new Map<string, number>();
  if (blobs.length > 0) {
    await tx.query('SELECT 1 FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest FOR KEY SHARE', [blobs]);
    const sql = `SELECT rb.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repository_id = $1 AND rb.digest = ANY($2::text[])`;
    linked = await digestsIn(tx, sql, repositoryId, blobs);
  }
  if (children.length > 0) {
    const sql = 'SELECT digest, size FROM manifests WHERE repository_id = $1 AND digest = ANY($2::text[]) ORDER BY digest FOR KEY SHARE';
    present = await digestsIn(tx, sql, repositoryId, children);
  }
  const missingBlobs = input.blobs.filter((d) => !linked.has(d));
  const missingManifests = input.absentManifestsAllowed ? [] : input.manifests.filter((d) => !present.has(d));
  if (missingBlobs.length > 0 || missingManifests.length > 0) {
    // Rolls back the repository we may have just created.
    throw new Rollback<PutManifestResult>({ kind: 'missing', blobs: missingBlobs, manifests: missingManifests });
  }
  const wrong = sizeMismatch([...input.blobs, ...input.manifests], new Map([...linked, ...present]), input.declaredSizes);
  if (wrong) throw new Rollback<PutManifestResult>(wrong);

  const insertManifest = () =>
    tx.query(
      `INSERT INTO manifests (repository_id, digest, media_type, size, payload, artifact_type, subject_digest, annotations, pushed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [
        repositoryId,
        input.digest,
        input.mediaType,
        input.payload.length,
        input.payload,
        input.artifactType ?? null,
        input.subject ?? null,
        input.annotations ? JSON.stringify(input.annotations) : null,
        now,
      ],
    );
  for (;;) {
    if (((await insertManifest()).rowCount ?? 0) > 0) {
      const refs = [...blobs.map((d) => [d, 'blob']), ...children.map((d) => [d, 'manifest'])];
      if (refs.length > 0) {
        await tx.query(
          `INSERT INTO manifest_references (repository_id, parent_digest, child_digest, kind)
           SELECT $1, $2, c, k FROM unnest($3::text[], $4::text[]) AS r(c, k) ON CONFLICT DO NOTHING`,
          [repositoryId, input.digest, refs.map((r) => r[0]), refs.map((r) => r[1])],
        );
      }
      if (input.limits) await checkManifestCounts(tx, repositoryId, input.subject, input.limits);
      if (input.scan) await startScanIn(tx, repositoryId, input.digest, input.scan, now);
      break;
    }
    // The manifest existed: hold it until commit, so a concurrent delete cannot take it away
    // before the tag is written. If one took it between the two statements, insert it anew.
    if (await one(tx, 'SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2 FOR KEY SHARE', [repositoryId, input.digest])) break;
  }

  // Name order: two puts writing overlapping sets of tags wait for each other, never in a cycle.
  const tags = [...(input.tags ?? [])].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const maxTags = tags.length > 0 ? input.limits?.tagsPerImage : undefined;
  if (maxTags !== undefined) await lockImageTags(tx, repositoryId, input.digest);
  for (const tag of tags) {
    // An immutable tag may be written only where it is absent or already points here. On a
    // conflict PostgreSQL locks the tag row (waiting for a racing put to commit) and evaluates
    // the WHERE against its latest version, so of two racing puts exactly one moves the tag.
    const moved = await tx.query(
      `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
       WHERE $5 OR tags.digest = excluded.digest`,
      [repositoryId, tag.name, input.digest, now, tag.mutable],
    );
    if ((moved.rowCount ?? 0) === 0) {
      const cur = await one<{ digest: string }>(tx, 'SELECT digest FROM tags WHERE repository_id = $1 AND name = $2', [repositoryId, tag.name]);
      throw new Rollback<PutManifestResult>({ kind: 'tagImmutable', tag: tag.name, current: cur!.digest as Digest });
    }
  }
  if (maxTags !== undefined) await checkTagCount(tx, repositoryId, input.digest, maxTags);
  if (input.events) await writeEventsIn(tx, input.events, now);
  if (input.jobs && input.jobs.length > 0) await enqueueIn(tx, input.jobs, now);
  if (input.replications) await startReplicationIn(tx, registryKeyText(input.registryKey), input.repository, input.digest, input.replications, now);
  return { kind: 'ok', repositoryId };
}

async function remove(
  tx: Queryable,
  collate: string,
  repositoryId: number,
  digest: Digest,
  now: number,
  events?: RemovalEvents,
  tag?: string,
  /** A further condition, checked once the row is locked and no index lists it; throws a Rollback to refuse. */
  check?: () => Promise<void>,
): Promise<DeleteManifestResult> {
  // Its blobs are queued in the same transaction: a crash can't lose the reason to review them.
  // Review rows come before manifest rows in the store-wide lock order; a refusal rolls this back.
  await queueManifestBlobs(tx, repositoryId, digest, now);
  const locked = await one(tx, 'SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2 FOR UPDATE', [repositoryId, digest]);
  if (!locked) throw new Rollback<DeleteManifestResult>({ kind: 'missing' });
  // A new statement, so a new snapshot: it sees every index put that committed while we waited.
  const parents = await rows<{ parent_digest: string }>(
    tx,
    `SELECT parent_digest FROM manifest_references WHERE repository_id = $1 AND child_digest = $2 AND kind = 'manifest'
     ORDER BY parent_digest COLLATE "C"`,
    [repositoryId, digest],
  );
  if (parents.length > 0) throw new Rollback<DeleteManifestResult>({ kind: 'referenced', parents: parents.map((p) => p.parent_digest as Digest) });
  await check?.();
  if (events) await writeRemovalEventsIn(tx, repositoryId, digest, tag, false, events, now);
  await tx.query('DELETE FROM manifests WHERE repository_id = $1 AND digest = $2', [repositoryId, digest]);
  const repo = (await one<{ registry_id: string; name: string }>(tx, 'SELECT registry_id, name FROM repositories WHERE id = $1', [repositoryId]))!;
  await tx.query(
    deleteSigningStatusesSql((n) => `$${n}`, collate),
    [repo.registry_id, ...statusNameRange(signingStatusPrefix(repo.name, digest))],
  );
  return { kind: 'deleted' };
}

async function taggedDigest(tx: Queryable, repositoryId: number, tag: string): Promise<string | undefined> {
  return (await one<{ digest: string }>(tx, 'SELECT digest FROM tags WHERE repository_id = $1 AND name = $2', [repositoryId, tag]))?.digest;
}

/**
 * BatchDeleteImage in one transaction: every name is resolved first, then each image is deleted
 * in turn. Each delete by digest runs in a savepoint, so a refused one (an index lists it) rolls
 * back only its own queued reviews, as a lone `remove` would.
 */
async function removeImages(
  tx: Queryable,
  collate: string,
  repositoryId: number,
  images: ImageDeleteRequest[],
  now: number,
  events?: RemovalEvents,
): Promise<ImageDeleteResult[]> {
  const targets = [];
  for (const image of images) {
    const tagged = image.tag === undefined ? undefined : await taggedDigest(tx, repositoryId, image.tag);
    const exists =
      image.tag === undefined &&
      image.digest !== undefined &&
      (await one(tx, 'SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2', [repositoryId, image.digest])) !== undefined;
    targets.push(resolveImage(image, tagged, exists));
  }
  const results: ImageDeleteResult[] = [];
  for (const [n, image] of images.entries()) {
    const target = targets[n]!;
    if (target.kind !== 'resolved') {
      results.push(target);
      continue;
    }
    const digest = target.digest;
    if (image.tag !== undefined && image.digest === undefined) {
      // Untag only, unless it is the image's last tag: then the image goes with it. The tag row
      // is deleted only if it still points here, so a racing move of the tag is never undone.
      if ((await taggedDigest(tx, repositoryId, image.tag)) !== digest) {
        results.push({ kind: 'gone' });
        continue;
      }
      const others = await one(tx, 'SELECT 1 FROM tags WHERE repository_id = $1 AND digest = $2 AND name <> $3 LIMIT 1', [repositoryId, digest, image.tag]);
      if (others) {
        if (events) await writeRemovalEventsIn(tx, repositoryId, digest, image.tag, true, events, now);
        const removed = await tx.query('DELETE FROM tags WHERE repository_id = $1 AND name = $2 AND digest = $3', [repositoryId, image.tag, digest]);
        results.push((removed.rowCount ?? 0) > 0 ? { kind: 'deleted', digest } : { kind: 'gone' });
        continue;
      }
    }
    await tx.query('SAVEPOINT delete_image');
    let removed: DeleteManifestResult;
    try {
      removed = await remove(tx, collate, repositoryId, digest, now, events, image.tag);
      await tx.query('RELEASE SAVEPOINT delete_image');
    } catch (e) {
      if (!(e instanceof Rollback)) throw e;
      await tx.query('ROLLBACK TO SAVEPOINT delete_image');
      removed = (e as Rollback<DeleteManifestResult>).value;
    }
    results.push(removed.kind === 'deleted' ? { kind: 'deleted', digest } : removed.kind === 'missing' ? { kind: 'gone' } : removed);
  }
  return results;
}

/**
 * A lifecycle expiry in one transaction: the image's row locked (by `remove`, after its reviews,
 * in the store-wide lock order), so no tag can be added to it meanwhile (a tag row's foreign key
 * waits for the lock); its tags compared with the planned ones; then its referrers, deepest
 * first. A referrer an index lists refuses the whole expiry, which rolls back.
 */
async function expireIn(
  tx: Queryable,
  collate: string,
  repositoryId: number,
  digest: Digest,
  plannedTags: readonly string[],
  now: number,
  events?: RemovalEvents,
): Promise<ImageExpiryResult> {
  const unchanged = async (): Promise<void> => {
    const tags = (await rows<{ name: string }>(tx, 'SELECT name FROM tags WHERE repository_id = $1 AND digest = $2', [repositoryId, digest])).map(
      (r) => r.name,
    );
    if (!tagsUnchanged(tags, plannedTags)) throw new Rollback<ImageExpiryResult>({ kind: 'changed', tags });
  };
  // A refusal (missing, referenced, or the tag check's changed) is a Rollback: withTransaction
  // rolls everything back and answers with its value.
  await remove(tx, collate, repositoryId, digest, now, events, undefined, unchanged);
  const referrers = (await rows<{ digest: string }>(tx, referrerClosureSql('$1', '$2'), [repositoryId, digest])).map((r) => r.digest as Digest);
  for (const r of referrers) {
    await tx.query('SAVEPOINT expire_referrer');
    try {
      await remove(tx, collate, repositoryId, r, now, events);
      await tx.query('RELEASE SAVEPOINT expire_referrer');
    } catch (e) {
      if (!(e instanceof Rollback) || (e as Rollback<DeleteManifestResult>).value.kind !== 'missing') throw e;
      // Deleted since the closure was read: what we wanted.
      await tx.query('ROLLBACK TO SAVEPOINT expire_referrer');
    }
  }
  return { kind: 'expired', referrers };
}

export function createPostgresManifests({ pool, collate }: PgContext): ManifestStore {
  return {
    async find(repositoryId, digest) {
      const r = await one<Row>(pool, `SELECT ${COLUMNS} FROM manifests m WHERE m.repository_id = $1 AND m.digest = $2`, [repositoryId, digest]);
      return r && toManifest(r);
    },
    async lookup(registryKey, name, reference) {
      // One round trip: the repository and its manifest in one statement.
      const byTag = 'tag' in reference;
      const r = await one<LookupRow>(
        pool,
        byTag
          ? `SELECT ${LOOKUP_COLUMNS} FROM repositories r
             LEFT JOIN tags t ON t.repository_id = r.id AND t.name = $3
             LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest
             WHERE r.registry_id = $1 AND r.name = $2`
          : `SELECT ${LOOKUP_COLUMNS} FROM repositories r
             LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = $3
             WHERE r.registry_id = $1 AND r.name = $2`,
        [registryKeyText(registryKey), name, byTag ? reference.tag : reference.digest],
      );
      return r && { repository: toRepository(r), ...(r.digest !== null && { manifest: toManifest(r as Row) }) };
    },
    async findByTag(repositoryId, tag) {
      const r = await one<Row>(
        pool,
        `SELECT ${COLUMNS} FROM tags t JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
         WHERE t.repository_id = $1 AND t.name = $2`,
        [repositoryId, tag],
      );
      return r && toManifest(r);
    },
    async put(input) {
      return withTransaction(pool, (tx) => put(tx, input));
    },
    async delete(repositoryId, digest, now, events) {
      return withTransaction(pool, (tx) => remove(tx, collate, repositoryId, digest, now.getTime(), events));
    },
    async deleteImages(repositoryId, images, now, events) {
      return withTransaction(pool, (tx) => removeImages(tx, collate, repositoryId, images, now.getTime(), events));
    },
    async expireImage(repositoryId, digest, plannedTags, now, events) {
      return withTransaction(pool, (tx) => expireIn(tx, collate, repositoryId, digest, plannedTags, now.getTime(), events));
    },
    async recordPulls(pulls) {
      if (pulls.length === 0) return;
      // The latest pull per image, written only if it moves the time forward. The rows are
      // locked first, in key order, so two nodes flushing overlapping batches wait for each
      // other instead of deadlocking; the condition is re-checked on a row's latest version
      // once its lock is ours, so concurrent recorders only ever move a pull time forward.
      await withTransaction(pool, (tx) =>
        tx.query(
          `WITH p AS (SELECT r, d, max(a) AS at FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(r, d, a) GROUP BY r, d),
           locked AS (
             SELECT m.repository_id, m.digest, p.at FROM manifests m JOIN p ON m.repository_id = p.r AND m.digest = p.d
             WHERE m.last_pulled_at IS NULL OR m.last_pulled_at < p.at
             ORDER BY m.repository_id, m.digest FOR NO KEY UPDATE OF m)
           UPDATE manifests m SET last_pulled_at = l.at FROM locked l
           WHERE m.repository_id = l.repository_id AND m.digest = l.digest AND (m.last_pulled_at IS NULL OR m.last_pulled_at < l.at)`,
          [pulls.map((p) => p.repositoryId), pulls.map((p) => p.digest), pulls.map((p) => p.at.getTime())],
        ),
      );
    },
    async referrers(repositoryId, subject, artifactType) {
      const found = await rows<Pick<Row, 'digest' | 'media_type' | 'size' | 'artifact_type' | 'annotations'>>(
        pool,
        `SELECT digest, media_type, size, artifact_type, annotations FROM manifests
         WHERE repository_id = $1 AND subject_digest = $2 AND ($3::text IS NULL OR artifact_type = $3) ORDER BY digest COLLATE "C"`,
        [repositoryId, subject, artifactType ?? null],
      );
      return found.map((m) => {
        const r: ReferrerRecord = { digest: m.digest as Digest, mediaType: m.media_type, size: m.size };
        if (m.artifact_type !== null) r.artifactType = m.artifact_type;
        if (m.annotations !== null) r.annotations = JSON.parse(m.annotations) as Record<string, string>;
        return r;
      });
    },
  };
}
