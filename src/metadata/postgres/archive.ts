/** The archive storage class on PostgreSQL (the twin of ../sqlite/archive.ts). */
import type { Digest } from '../../core/digest.js';
import { defaultRepositorySettings, type RepositorySettings } from '../../core/repository-settings.js';
import type { ArchiveStore, ImageStatus, StorageClass } from '../archive.js';
import { largestArchivedSql, layerArchivedSql, wantedClassSql } from '../archive-sql.js';
import { parseRegistryKey } from '../../core/registry-key.js';
import { writeEventsIn } from './events.js';
import { enqueueIn } from './jobs.js';
import { tagsUnchanged } from '../image-deletes.js';
import { one, rows, withTransaction, type PgContext, type Queryable } from './pool.js';

const ARCHIVED_BLOB = `SELECT 1 FROM manifest_references r JOIN blobs b ON b.digest = r.child_digest
  WHERE r.repository_id = $1 AND r.parent_digest = $2 AND r.kind = 'blob' AND b.storage_class = 'ARCHIVE' LIMIT 1`;

async function placementRow(db: Queryable, digest: string, lock: boolean) {
  return one<{ storage_class: string; wanted: string }>(
    db,
    `SELECT storage_class, ${wantedClassSql('$1')} AS wanted FROM blobs WHERE digest = $1${lock ? ' FOR UPDATE' : ''}`,
    [digest],
  );
}

export function createPostgresArchive({ pool }: PgContext): ArchiveStore {
  return {
    async setStatus(repositoryId, digest, change, now, jobs, events) {
      return withTransaction(pool, async (tx) => {
        const found = (
          await one<{ image_status: string }>(tx, 'SELECT image_status FROM manifests WHERE repository_id = $1 AND digest = $2 FOR UPDATE', [
            repositoryId,
            digest,
          ])
        )?.image_status as ImageStatus | undefined;
        if (found !== change.from) return found;
        // After the row lock: an index put listing the image (FOR KEY SHARE on its children) and a
        // tag write naming it (its foreign key) wait for it, so these reads see what the change applies to.
        if (
          change.to === 'ARCHIVED' &&
          (await one(tx, "SELECT 1 FROM manifest_references WHERE repository_id = $1 AND child_digest = $2 AND kind = 'manifest' LIMIT 1", [
            repositoryId,
            digest,
          ]))
        ) {
          return 'listed' as const;
        }
        if (change.plannedTags) {
          const tags = await rows<{ name: string }>(tx, 'SELECT name FROM tags WHERE repository_id = $1 AND digest = $2', [repositoryId, digest]);
          if (
            !tagsUnchanged(
              tags.map((t) => t.name),
              change.plannedTags,
            )
          )
            return 'changed' as const;
        }
        if (change.to === 'ARCHIVED') {
          await tx.query("UPDATE manifests SET image_status = 'ARCHIVED', archived_at = $1 WHERE repository_id = $2 AND digest = $3", [
            now.getTime(),
            repositoryId,
            digest,
          ]);
        } else {
          await tx.query("UPDATE manifests SET image_status = 'ACTIVATING' WHERE repository_id = $1 AND digest = $2", [repositoryId, digest]);
        }
        await enqueueIn(tx, jobs, now.getTime());
        await writeEventsIn(tx, events, now.getTime());
        return found;
      });
    },
    async activate(repositoryId, digest, now, events) {
      return withTransaction(pool, async (tx) => {
        const found = (
          await one<{ image_status: string }>(tx, 'SELECT image_status FROM manifests WHERE repository_id = $1 AND digest = $2 FOR UPDATE', [
            repositoryId,
            digest,
          ])
        )?.image_status;
        if (found === 'ACTIVE') return 'active' as const;
        if (found !== 'ACTIVATING') return 'missing' as const;
        if (await one(tx, ARCHIVED_BLOB, [repositoryId, digest])) return 'waiting' as const;
        await tx.query("UPDATE manifests SET image_status = 'ACTIVE', activated_at = $1 WHERE repository_id = $2 AND digest = $3", [
          now.getTime(),
          repositoryId,
          digest,
        ]);
        await writeEventsIn(tx, events, now.getTime());
        return 'active' as const;
      });
    },
    async hasArchivedBlobs(repositoryId, digest) {
      return (await one(pool, ARCHIVED_BLOB, [repositoryId, digest])) !== undefined;
    },
    async imageBlobs(repositoryId, digest) {
      const found = await rows<{ digest: string }>(
        pool,
        "SELECT child_digest AS digest FROM manifest_references WHERE repository_id = $1 AND parent_digest = $2 AND kind = 'blob' ORDER BY child_digest",
        [repositoryId, digest],
      );
      return found.map((r) => r.digest as Digest);
    },
    async placement(digest) {
      return withTransaction(
        pool,
        async (tx) => {
          const p = await placementRow(tx, digest, false);
          if (!p) return undefined;
          const holders = await rows<{ settings: string }>(
            tx,
            'SELECT DISTINCT r.settings FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = $1',
            [digest],
          );
          return {
            storageClass: p.storage_class as StorageClass,
            wanted: p.wanted as StorageClass,
            holders: holders.map((r) => ({ ...defaultRepositorySettings, ...(JSON.parse(r.settings) as Partial<RepositorySettings>) })),
          };
        },
        { isolation: 'REPEATABLE READ', readOnly: true },
      );
    },
    async storageClass(digest) {
      return (await one<{ storage_class: string }>(pool, 'SELECT storage_class FROM blobs WHERE digest = $1', [digest]))?.storage_class as
        | StorageClass
        | undefined;
    },
    async setStorageClass(digest, from, to) {
      return withTransaction(pool, async (tx) => {
        const p = await placementRow(tx, digest, true);
        if (!p || p.storage_class !== from || p.wanted !== to) return false;
        await tx.query('UPDATE blobs SET storage_class = $1 WHERE digest = $2', [to, digest]);
        return true;
      });
    },
    async layerAccess(repositoryId, digest) {
      const r = await one<{ archived: boolean }>(pool, layerArchivedSql('$1', '$2'), [repositoryId, digest]);
      return r?.archived ? 'archived' : 'readable';
    },
    async largestArchived(limit) {
      const found = await rows<{ registry_id: string; repository: string; bytes: number | string }>(pool, largestArchivedSql('$1'), [limit]);
      return found.map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.repository, bytes: Number(r.bytes) }));
    },
  };
}
