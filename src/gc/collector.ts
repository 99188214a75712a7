/**
 * Online garbage collection (design decision 3). One pass:
 *
 *  1. commit markers older than the upload age limit (a node died between committing an upload's
 *     bytes and recording them) are dropped, their bytes queued for deletion when unrecorded;
 *  2. review: every blob queued for longer than the grace period is re-checked in a transaction;
 *     a blob no manifest references loses its rows and gets a deletion row (the outbox);
 *  3. sweep: each deletion is claimed in a transaction that re-checks that no blob row and no
 *     upload commit exists, then its bytes are deleted, then its row. A crash anywhere leaves a
 *     row to retry (a stale claim is taken over) or nothing to do;
 *  4. upload sessions idle longer than the upload age limit are deleted with their staged bytes,
 *     and staged bytes whose session is gone (a crash between the two) are reclaimed.
 *
 * Safe beside any number of servers and other passes on the same metadata: every decision is a
 * transaction, and the bytes go only after the metadata says nothing can need them.
 */
import type { Logger } from 'pino';
import type { ReclaimableBlobs } from '../blobstore/vaults.js';
import type { Clock } from '../core/clock.js';
import type { Digest } from '../core/digest.js';
import { GC_CLAIM_STALE_MS, type GcStore } from '../metadata/gc.js';

/** Digests decided per transaction: a commit each (an fsync) for this many, a short write lock. */
const BATCH = 256;
/** Blob-store deletes in flight at once. */
const DELETE_CONCURRENCY = 16;

export interface GcSettings {
  /** A queued blob is reviewed once it has been queued this long. */
  graceMs: number;
  /** Upload sessions idle this long are abandoned; commit markers this old are stale. */
  uploadMaxAgeMs: number;
}

export interface GcReport {
  dryRun: boolean;
  /** Blobs whose review was due. */
  reviewed: number;
  /** Due blobs a manifest still references. */
  kept: number;
  /** Due blobs found unreferenced: removed from the metadata, bytes queued (or, dry: would be). */
  deleted: { blobs: number; bytes: number };
  /** Bytes removed from the blob store this pass (including deletions queued by earlier passes). */
  swept: { blobs: number; bytes: number };
  /** Deletions left queued after the pass (blocked by an upload in progress, or a failed delete). */
  pendingDeletions: number;
  uploadsReclaimed: number;
  /** Staged uploads whose session row was gone. */
  stagedOrphansReclaimed: number;
  commitMarkersReclaimed: number;
  ms: number;
}

export class GarbageCollector {
  constructor(
    private readonly deps: { gc: GcStore; blobs: ReclaimableBlobs; clock: Clock; log: Logger },
    private readonly settings: GcSettings,
  ) {}

  async run(opts: { dryRun?: boolean } = {}): Promise<GcReport> {
    const started = performance.now();
    const report: GcReport = {
      dryRun: opts.dryRun === true,
      reviewed: 0,
      kept: 0,
      deleted: { blobs: 0, bytes: 0 },
      swept: { blobs: 0, bytes: 0 },
      pendingDeletions: 0,
      uploadsReclaimed: 0,
      stagedOrphansReclaimed: 0,
      commitMarkersReclaimed: 0,
      ms: 0,
    };
    // One cutoff for the whole pass: a blob queued or revived after it waits for the next pass.
    const now = this.deps.clock.now();
    const dueBefore = new Date(now.getTime() - this.settings.graceMs);
    const idleBefore = new Date(now.getTime() - this.settings.uploadMaxAgeMs);
    if (report.dryRun) await this.preview(report, dueBefore, idleBefore);
    else {
      report.commitMarkersReclaimed = await this.deps.gc.reclaimCommitMarkers(idleBefore, now);
      await this.review(report, dueBefore);
      await this.sweep(report);
      await this.reclaimUploads(report, idleBefore);
      report.pendingDeletions = await this.deps.gc.countDeletions();
    }
    report.ms = Math.round(performance.now() - started);
    return report;
  }

  private tally(report: GcReport, outcomes: Array<{ outcome: string; size: number }>): void {
    for (const o of outcomes) {
      report.reviewed++;
      if (o.outcome === 'kept') report.kept++;
      if (o.outcome === 'deleted') {
        report.deleted.blobs++;
        report.deleted.bytes += o.size;
      }
    }
  }

  private async review(report: GcReport, dueBefore: Date): Promise<void> {
    for (;;) {
      const batch = await this.deps.gc.review(dueBefore, this.deps.clock.now(), BATCH);
      this.tally(report, batch);
      if (batch.length < BATCH) return;
    }
  }

  private async sweep(report: GcReport): Promise<void> {
    let after = '';
    for (;;) {
      const now = this.deps.clock.now();
      const { claimed, next } = await this.deps.gc.claimDeletions(after, now, new Date(now.getTime() - GC_CLAIM_STALE_MS), BATCH);
      const done = await this.deleteBytes(claimed, report);
      await this.deps.gc.finishDeletions(done);
      if (next === undefined) return;
      after = next;
    }
  }

  /** Deletes claimed blobs' bytes; returns those gone. A failed one stays claimed and is retried once stale. */
  private async deleteBytes(digests: Digest[], report: GcReport): Promise<Digest[]> {
    const done: Digest[] = [];
    const queue = [...digests];
    const worker = async () => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
        try {
          const size = (await this.deps.blobs.stat(d))?.size ?? 0;
          await this.deps.blobs.delete(d);
          this.deps.log.info({ digest: d, size }, 'blob deleted');
          report.swept.blobs++;
          report.swept.bytes += size;
          done.push(d);
        } catch (err) {
          this.deps.log.error({ digest: d, err }, 'blob delete failed; retried on a later pass');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, queue.length) }, worker));
    return done;
  }

  private async reclaimUploads(report: GcReport, idleBefore: Date): Promise<void> {
    for (;;) {
      const ids = await this.deps.gc.idleUploads(idleBefore, BATCH);
      for (const id of ids) {
        // Re-checked in the delete: a session that moved meanwhile is not abandoned.
        if (!(await this.deps.gc.deleteIdleUpload(id, idleBefore))) continue;
        await this.deps.blobs.deleteUpload(id);
        report.uploadsReclaimed++;
        this.deps.log.info({ upload: id }, 'abandoned upload reclaimed');
      }
      if (ids.length < BATCH) break;
    }
    for (const id of await this.orphanedStagedUploads(idleBefore)) {
      await this.deps.blobs.deleteUpload(id);
      report.stagedOrphansReclaimed++;
      this.deps.log.info({ upload: id }, 'staged bytes without a session reclaimed');
    }
  }

  /**
   * Staged uploads untouched since `idleBefore` with no session row. A session row is written
   * before its first staged byte and removed after its last, so such bytes belong to no one.
   */
  private async orphanedStagedUploads(idleBefore: Date): Promise<string[]> {
    if (!this.deps.blobs.listUploads) return [];
    const old: string[] = [];
    for await (const u of this.deps.blobs.listUploads()) if (u.modifiedAt < idleBefore) old.push(u.id);
    const live = await this.deps.gc.existingUploads(old);
    return old.filter((id) => !live.has(id));
  }

  private async preview(report: GcReport, dueBefore: Date, idleBefore: Date): Promise<void> {
    this.tally(report, await this.deps.gc.previewReview(dueBefore));
    report.pendingDeletions = await this.deps.gc.countDeletions();
    report.uploadsReclaimed = (await this.deps.gc.idleUploads(idleBefore, Number.MAX_SAFE_INTEGER)).length;
    report.stagedOrphansReclaimed = (await this.orphanedStagedUploads(idleBefore)).length;
  }
}
