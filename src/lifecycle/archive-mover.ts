/**
 * The archive move job (ARCHIVE_MOVE_JOB): brings an image's bytes to the storage class its
 * status calls for, blob by blob, then (for a restore) marks the image ACTIVE.
 *
 * A blob is moved under a lease of its own (one mover per digest across nodes), and crash-safe
 * in three steps: copy the bytes to the target store (the store's commit makes them durable,
 * fsynced, before it returns), then commit the new class in the metadata (only if the blob
 * still belongs there), then delete the source copy. A crash before the class commit leaves an
 * extra copy at the target; after it, an extra copy at the source: readers follow the class, so
 * both are harmless, and the job (retried until it completes) or the next move of the digest
 * removes the copy the class does not name. No instant leaves the class naming a store without
 * the bytes.
 *
 * Bytes are copied through the stores' own read and write, so sealed blobs are opened and
 * sealed again under the same key: they stay encrypted in the archive. Deduplication holds: a
 * blob that any ACTIVE or ACTIVATING image shares stays in (or returns to) the standard store.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobStore } from '../blobstore/blob-store.js';
import type { Digest } from '../core/digest.js';
import type { RepositorySettings } from '../core/repository-settings.js';
import type { StorageClass } from '../metadata/archive.js';
import type { JobRecord } from '../metadata/types.js';
import type { Registry } from '../registry/registry.js';
import { parseArchiveMovePayload } from '../registry/storage-classes.js';

/** How long a mover holds a digest; a mover that dies lets the next one in after this. */
const BLOB_LEASE_MS = 15 * 60_000;
const LEASE_ATTEMPTS = 40;
const LEASE_RETRY_MS = 250;

export class ArchiveMover {
  private readonly holder = `archive-mover-${randomUUID()}`;

  constructor(private readonly registry: Registry) {}

  async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const p = parseArchiveMovePayload(job.payload);
    const { meta, log } = this.registry.ctx;
    for (const digest of await meta.archive.imageBlobs(p.repositoryId, p.digest as Digest)) {
      signal.throwIfAborted();
      await this.settle(digest, signal);
    }
    if (p.target === 'STANDARD') {
      const result = await this.registry.storageClasses.activate(p.scope, p.repositoryId, p.digest as Digest);
      // A blob went back to the archive between its move and this check (another image's
      // archive raced the restore): the retry moves it again.
      if (result === 'waiting') throw new Error(`image ${p.digest}: a blob is still in the archive`);
    }
    log.debug({ repository: p.repository, digest: p.digest, target: p.target }, 'archive move done');
  }

  /** Brings one blob's bytes to where its placement says they belong. */
  private async settle(digest: Digest, signal: AbortSignal): Promise<void> {
    const { meta, clock, log } = this.registry.ctx;
    const lease = `archive-blob:${digest}`;
    // Another mover of the digest (an archive and a restore of images sharing it) is usually
    // done soon: wait a little rather than fail into the job's growing retry backoff.
    for (let attempt = 1; !(await meta.leases.acquire(lease, this.holder, BLOB_LEASE_MS, clock.now())); attempt++) {
      if (attempt >= LEASE_ATTEMPTS) throw new Error(`blob ${digest} is being moved by another mover`);
      await sleep(LEASE_RETRY_MS, undefined, { signal });
    }
    try {
      const p = await meta.archive.placement(digest);
      if (!p) return;
      if (p.storageClass === p.wanted) {
        // Settled: remove a copy an interrupted move (or an upload while archived) left in the
        // other class; readers follow the class, and no other mover runs while the lease is held.
        const other = p.storageClass === 'ARCHIVE' ? 'STANDARD' : 'ARCHIVE';
        for (const { to } of await this.storePairs(p.holders, p.storageClass, other)) await to.delete(digest);
        return;
      }
      const pairs = await this.storePairs(p.holders, p.storageClass, p.wanted);
      for (const { from, to } of pairs) await copy(from, to, digest, signal);
      if (!(await meta.archive.setStorageClass(digest, p.storageClass, p.wanted))) {
        // Its placement changed meanwhile; the copy is removed by the next settle of the digest.
        throw new Error(`blob ${digest}: placement changed during the move`);
      }
      for (const { from } of pairs) await from.delete(digest);
      log.info({ digest, storageClass: p.wanted }, 'blob moved between storage classes');
    } finally {
      await meta.leases.release(lease, this.holder);
    }
  }

  /** One (from, to) pair per distinct store of the blob's holders (one per encryption key). */
  private async storePairs(holders: RepositorySettings[], from: StorageClass, to: StorageClass): Promise<Array<{ from: BlobStore; to: BlobStore }>> {
    const vaults = this.registry.ctx.vaults;
    const archiveOf = vaults.archiveOf?.bind(vaults);
    if (!archiveOf) throw new Error('this deployment has no archive location');
    const storeIn = (c: StorageClass, s: RepositorySettings) => (c === 'ARCHIVE' ? archiveOf(s) : vaults.of(s));
    const pairs: Array<{ from: BlobStore; to: BlobStore }> = [];
    const seen = new Set<BlobStore>();
    for (const s of holders) {
      const source = await storeIn(from, s);
      if (seen.has(source)) continue;
      seen.add(source);
      pairs.push({ from: source, to: await storeIn(to, s) });
    }
    return pairs;
  }
}

/**
 * Copies a blob between stores through a staged upload, committed atomically (durable when
 * commit returns). A source without the blob is skipped when the target already has it (a
 * retried move whose source was deleted); otherwise it fails, keeping the class as it is.
 */
async function copy(from: BlobStore, to: BlobStore, digest: Digest, signal: AbortSignal): Promise<void> {
  const source = await from.stat(digest);
  const target = await to.stat(digest);
  if (!source) {
    if (target) return;
    throw new Error(`blob ${digest} is in neither store`);
  }
  if (target?.size === source.size) return;
  const writer = await to.writer(randomUUID(), { append: false });
  try {
    await writer.append(await from.read(digest, undefined, signal), signal);
    if (writer.size !== source.size) throw new Error(`blob ${digest}: copied ${writer.size} of ${source.size} bytes`);
    await writer.commit(digest);
  } catch (e) {
    await writer.cancel().catch(() => undefined);
    throw e;
  }
}
