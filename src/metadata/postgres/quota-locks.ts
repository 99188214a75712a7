/**
 * Count quotas on PostgreSQL. A count-then-insert under READ COMMITTED is a write skew: two
 * transactions each count N-1 and both insert the last slot. So the writer that may take a slot
 * first takes a transaction-scoped advisory lock on what is counted (the registry, the
 * repository, or the image), then counts: the lock is held to commit, and a statement run after
 * it is granted sees what the previous holder committed. Only writers that add to a count take
 * one (a new repository, a new manifest, tags written), each at most one lock per kind, always in
 * the order registry, repository, image, so they never wait in a cycle.
 */
import { QuotaRefusal } from '../quotas.js';
import { LOCK_NAMESPACE, one, type Queryable } from './pool.js';

/** Refuses (throws QuotaRefusal) if the registry already holds `max` repositories. */
export async function checkRepositoryCount(tx: Queryable, registryId: string, max: number | undefined): Promise<void> {
  if (max === undefined) return;
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE.quotaRegistry, registryId]);
  const n = Number((await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM repositories WHERE registry_id = $1', [registryId]))!.n);
  if (n >= max) throw new QuotaRefusal('repositoriesPerRegistry', max);
}

/** After inserting a manifest: refuses if the repository (or the subject's referrers) now exceed their limit. */
export async function checkManifestCounts(
  tx: Queryable,
  repositoryId: number,
  subject: string | undefined,
  limits: { imagesPerRepository?: number; referrersPerSubject?: number },
): Promise<void> {
  const { imagesPerRepository: images, referrersPerSubject: referrers } = limits;
  if (images === undefined && (referrers === undefined || subject === undefined)) return;
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE.quotaRepository, repositoryId]);
  if (images !== undefined) {
    const n = Number((await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM manifests WHERE repository_id = $1', [repositoryId]))!.n);
    if (n > images) throw new QuotaRefusal('imagesPerRepository', images);
  }
  if (referrers !== undefined && subject !== undefined) {
    const sql = 'SELECT COUNT(*) AS n FROM manifests WHERE repository_id = $1 AND subject_digest = $2';
    if (Number((await one<{ n: string }>(tx, sql, [repositoryId, subject]))!.n) > referrers) throw new QuotaRefusal('referrersPerSubject', referrers);
  }
}

/** Before writing tags to an image: serializes the writers of one image's tags. */
export async function lockImageTags(tx: Queryable, repositoryId: number, digest: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE.quotaImage, `${repositoryId}/${digest}`]);
}

/** After writing tags: refuses if the image now has more than `max`. */
export async function checkTagCount(tx: Queryable, repositoryId: number, digest: string, max: number): Promise<void> {
  const n = Number((await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM tags WHERE repository_id = $1 AND digest = $2', [repositoryId, digest]))!.n);
  if (n > max) throw new QuotaRefusal('tagsPerImage', max);
}
