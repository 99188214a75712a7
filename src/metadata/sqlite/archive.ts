/** The archive storage class on SQLite (see ../archive.ts). Writes are IMMEDIATE transactions. */
import type { Digest } from '../../core/digest.js';
import { defaultRepositorySettings, type RepositorySettings } from '../../core/repository-settings.js';
import type { ArchiveStore, ImageStatus, StorageClass } from '../archive.js';
import { largestArchivedSql, layerArchivedSql, wantedClassSql } from '../archive-sql.js';
import { parseRegistryKey } from '../../core/registry-key.js';
import type { JobRequest, OutboxEvent } from '../types.js';
import { prepareOutboxWriter } from './events.js';
import { prepareEnqueue } from './jobs.js';
import { tagsUnchanged } from '../image-deletes.js';
import type { Db } from './open.js';

/** Whether a repository's clients may read a layer (archive-sql.ts): (repo, digest) by name. */
export const LAYER_ARCHIVED_SQL = layerArchivedSql('@repo', '@digest', 'manifest_references r INDEXED BY manifest_references_child');

export function createSqliteArchive(db: Db): ArchiveStore {
  const statusStmt = db.prepare<[number, string], { image_status: string }>('SELECT image_status FROM manifests WHERE repository_id = ? AND digest = ?');
  const archiveStmt = db.prepare("UPDATE manifests SET image_status = 'ARCHIVED', archived_at = ? WHERE repository_id = ? AND digest = ?");
  const activatingStmt = db.prepare("UPDATE manifests SET image_status = 'ACTIVATING' WHERE repository_id = ? AND digest = ?");
  const activeStmt = db.prepare("UPDATE manifests SET image_status = 'ACTIVE', activated_at = ? WHERE repository_id = ? AND digest = ?");
  const blobsStmt = db.prepare<[number, string], { digest: string }>(
    "SELECT child_digest AS digest FROM manifest_references WHERE repository_id = ? AND parent_digest = ? AND kind = 'blob' ORDER BY child_digest",
  );
  const archivedBlobStmt = db.prepare<[number, string], { one: number }>(
    `SELECT 1 AS one FROM manifest_references r JOIN blobs b ON b.digest = r.child_digest
     WHERE r.repository_id = ? AND r.parent_digest = ? AND r.kind = 'blob' AND b.storage_class = 'ARCHIVE' LIMIT 1`,
  );
  const classStmt = db.prepare<[string], { storage_class: string }>('SELECT storage_class FROM blobs WHERE digest = ?');
  const placementStmt = db.prepare<[{ digest: string }], { storage_class: string; wanted: string }>(
    `SELECT storage_class, ${wantedClassSql('@digest')} AS wanted FROM blobs WHERE digest = @digest`,
  );
  const holdersStmt = db.prepare<[string], { settings: string }>(
    'SELECT DISTINCT r.settings FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ?',
  );
  const setClassStmt = db.prepare('UPDATE blobs SET storage_class = ? WHERE digest = ?');
  const layerStmt = db.prepare<[{ repo: number; digest: string }], { archived: number }>(LAYER_ARCHIVED_SQL);
  const largestStmt = db.prepare<[number], { registry_id: string; repository: string; bytes: number }>(largestArchivedSql('?'));
  const enqueue = prepareEnqueue(db);
  const outbox = prepareOutboxWriter(db);

  const listedStmt = db.prepare<[number, string], { one: number }>(
    "SELECT 1 AS one FROM manifest_references WHERE repository_id = ? AND child_digest = ? AND kind = 'manifest' LIMIT 1",
  );
  const tagsStmt = db.prepare<[number, string], { name: string }>('SELECT name FROM tags WHERE repository_id = ? AND digest = ?');
  const setStatus = db.transaction(
    (
      repositoryId: number,
      digest: string,
      from: ImageStatus,
      to: 'ARCHIVED' | 'ACTIVATING',
      plannedTags: readonly string[] | undefined,
      now: number,
      jobs: JobRequest[],
      events: OutboxEvent[],
    ) => {
      const found = statusStmt.get(repositoryId, digest)?.image_status as ImageStatus | undefined;
      if (found !== from) return found;
      if (to === 'ARCHIVED' && listedStmt.get(repositoryId, digest)) return 'listed' as const;
      if (
        plannedTags &&
        !tagsUnchanged(
          tagsStmt.all(repositoryId, digest).map((r) => r.name),
          plannedTags,
        )
      )
        return 'changed' as const;
      if (to === 'ARCHIVED') archiveStmt.run(now, repositoryId, digest);
      else activatingStmt.run(repositoryId, digest);
      for (const j of jobs) enqueue(j, now);
      outbox.write(events, now);
      return found;
    },
  );
  const activate = db.transaction((repositoryId: number, digest: string, now: number, events: OutboxEvent[]) => {
    const found = statusStmt.get(repositoryId, digest)?.image_status;
    if (found === 'ACTIVE') return 'active' as const;
    if (found !== 'ACTIVATING') return 'missing' as const;
    if (archivedBlobStmt.get(repositoryId, digest)) return 'waiting' as const;
    activeStmt.run(now, repositoryId, digest);
    outbox.write(events, now);
    return 'active' as const;
  });
  const placement = db.transaction((digest: string) => {
    const p = placementStmt.get({ digest });
    if (!p) return undefined;
    const holders = holdersStmt.all(digest).map((r) => ({ ...defaultRepositorySettings, ...(JSON.parse(r.settings) as Partial<RepositorySettings>) }));
    return { storageClass: p.storage_class as StorageClass, wanted: p.wanted as StorageClass, holders };
  });
  const setStorageClass = db.transaction((digest: string, from: StorageClass, to: StorageClass) => {
    const p = placementStmt.get({ digest });
    if (!p || p.storage_class !== from || p.wanted !== to) return false;
    setClassStmt.run(to, digest);
    return true;
  });

  return {
    async setStatus(repositoryId, digest, change, now, jobs, events) {
      return setStatus.immediate(repositoryId, digest, change.from, change.to, change.plannedTags, now.getTime(), jobs, events);
    },
    async activate(repositoryId, digest, now, events) {
      return activate.immediate(repositoryId, digest, now.getTime(), events);
    },
    async hasArchivedBlobs(repositoryId, digest) {
      return archivedBlobStmt.get(repositoryId, digest) !== undefined;
    },
    async imageBlobs(repositoryId, digest) {
      return blobsStmt.all(repositoryId, digest).map((r) => r.digest as Digest);
    },
    async placement(digest) {
      return placement.deferred(digest);
    },
    async storageClass(digest) {
      return classStmt.get(digest)?.storage_class as StorageClass | undefined;
    },
    async setStorageClass(digest, from, to) {
      return setStorageClass.immediate(digest, from, to);
    },
    async layerAccess(repositoryId, digest) {
      return layerStmt.get({ repo: repositoryId, digest })?.archived === 1 ? 'archived' : 'readable';
    },
    async largestArchived(limit) {
      return largestStmt.all(limit).map((r) => ({ registryKey: parseRegistryKey(r.registry_id), repository: r.repository, bytes: r.bytes }));
    },
  };
}
