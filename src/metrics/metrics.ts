/**
 * Every Prometheus metric Berth exposes, in one registry (prom-client): request counters and
 * latencies (./request-metrics.ts registers them), background work (through core's Telemetry), and
 * gauges read from the metadata when scraped — each a small bounded query, the per-repository
 * storage figure cached for a minute. Names and labels are documented in the README ("Metrics").
 */
import { registryKeyText } from '../core/registry-key.js';
import { statfs } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Telemetry } from '../core/telemetry.js';
import type { ReplicationStatusStore } from '../metadata/replication.js';
import type { UsageStore } from '../metadata/usage.js';
import type { ArchiveStore } from '../metadata/archive.js';
import { collectDefaultMetricsButGc } from './default-metrics.js';
import { registerDownloadMetrics } from './download-metrics.js';
import type { DownloadBudget } from '../core/download-budget.js';

/** Pass and scan buckets, seconds. */
const PASS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Repositories shown by berth_repository_storage_bytes: the largest ones, a bound on series. */
export const STORAGE_SERIES_LIMIT = 1000;
const STORAGE_REFRESH_MS = 60_000;
/**
 * Event targets with their own delivery-failure series before the rest count under '_other'. A
 * target's Id is chosen by whoever may PutTargets, and a counter's series lives as long as the
 * process: without a bound, targets made, failed once and deleted would grow every node's memory
 * and every scrape without end.
 */
export const MAX_TARGET_SERIES = 1000;

export interface MetricSources {
  usage: UsageStore;
  /** Read at each scrape for the replication lag. */
  replication: Pick<ReplicationStatusStore, 'oldestPending'>;
  /** Read (at most once a minute) for the archive storage class's bytes per repository. */
  archive?: Pick<ArchiveStore, 'largestArchived'>;
  clock: Clock;
  /** The data directory when blobs are kept there (not S3): its file system's free and total bytes. */
  blobDir?: string;
  /** What downloads in flight hold, by budget (core/download-budget.ts), read at each scrape. */
  budgets?: Record<'blobs' | 'manifests', BudgetFigures>;
  /** Connections closed at accept by maxConnectionsPerSource so far. */
  sourceRefusals?: () => number;
  /** Bytes resident of the upload seal slots' two blocks (blobstore/encrypted/seal-pool.ts); undefined where it cannot be told. */
  sealSlots?: () => Record<'budget' | 'bulk', number | undefined>;
}

/** The figures of a download budget the metrics show. */
export type BudgetFigures = Pick<DownloadBudget, 'bytes' | 'held' | 'waiters' | 'waited' | 'refused' | 'leanGrants'>;

export class BerthMetrics implements Telemetry {
  readonly registry = new Registry();

  private readonly gcDuration = new Histogram({
    name: 'berth_gc_pass_duration_seconds',
    help: 'Duration of garbage-collection passes run by this node',
    buckets: PASS_BUCKETS,
    registers: [this.registry],
  });
  private readonly gcBytes = new Counter({
    name: 'berth_gc_reclaimed_bytes_total',
    help: 'Bytes removed from the blob store by garbage-collection passes of this node',
    registers: [this.registry],
  });
  private readonly gcBlobs = new Counter({
    name: 'berth_gc_reclaimed_blobs_total',
    help: 'Blobs removed from the blob store by garbage-collection passes of this node',
    registers: [this.registry],
  });
  private readonly lifecycleDuration = new Histogram({
    name: 'berth_lifecycle_pass_duration_seconds',
    help: 'Duration of lifecycle passes (every repository with a policy) run by this node',
    buckets: PASS_BUCKETS,
    registers: [this.registry],
  });
  private readonly lifecycleExpired = new Counter({
    name: 'berth_lifecycle_expired_images_total',
    help: 'Images expired by lifecycle passes of this node (their bytes are reclaimed by later GC passes)',
    registers: [this.registry],
  });
  private readonly scanDuration = new Histogram({
    name: 'berth_scan_duration_seconds',
    help: 'Duration of image scans run by this node, by outcome (complete, failed)',
    labelNames: ['outcome'] as const,
    buckets: PASS_BUCKETS,
    registers: [this.registry],
  });
  private readonly deliveryFailures = new Counter({
    name: 'berth_event_delivery_failures_total',
    help: 'Event deliveries that failed (and will be retried), by target',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  private storageCache: { at: number; rows: Awaited<ReturnType<UsageStore['largestRepositories']>> } | undefined;

  constructor(sources: MetricSources) {
    collectDefaultMetricsButGc(this.registry);
    const { usage, replication, archive, clock, blobDir } = sources;
    registerDownloadMetrics(this.registry, sources);
    const { sealSlots } = sources;
    if (sealSlots)
      // mincore over the blocks' pages (24 MiB: 6,144 pages) at each scrape, nothing per upload.
      new Gauge({
        name: 'berth_upload_seal_slots_resident_bytes',
        help: "Bytes of the upload seal slots' memory resident now, by block (budget: the slots all uploads share; bulk: those lent to fast ones). Pages touched while uploads run stay until they have been quiet for a second",
        labelNames: ['block'] as const,
        registers: [this.registry],
        collect() {
          for (const [block, bytes] of Object.entries(sealSlots())) if (bytes !== undefined) this.set({ block }, bytes);
        },
      });
    new Gauge({
      name: 'berth_upload_sessions',
      help: 'Upload sessions open (all nodes: read from the metadata)',
      registers: [this.registry],
      async collect() {
        this.set(await usage.openUploads());
      },
    });
    // Each gauge reads for itself: prom-client collects the families of a scrape concurrently.
    new Gauge({
      name: 'berth_jobs_queued',
      help: 'Jobs waiting or running in the durable queue, by kind (all nodes)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const queues = await usage.jobQueues();
        this.reset();
        for (const q of queues) this.set({ kind: q.kind }, q.queued);
      },
    });
    new Gauge({
      name: 'berth_jobs_oldest_age_seconds',
      help: 'Age of the oldest job in the durable queue, by kind (all nodes)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const queues = await usage.jobQueues();
        const now = clock.now().getTime();
        this.reset();
        for (const q of queues) this.set({ kind: q.kind }, Math.max(0, (now - q.oldest.getTime()) / 1000));
      },
    });
    new Gauge({
      name: 'berth_replication_lag_seconds',
      help: 'Age of the oldest image not yet replicated (IN_PROGRESS), by destination region/account; absent when none is pending',
      labelNames: ['destination'] as const,
      registers: [this.registry],
      async collect() {
        const pending = await replication.oldestPending();
        const now = clock.now().getTime();
        this.reset();
        for (const p of pending)
          this.set({ destination: `${p.destination.region}/${p.destination.registryId}` }, Math.max(0, (now - p.since.getTime()) / 1000));
      },
    });
    const cache = () => this.storageCache;
    const setCache = (c: NonNullable<BerthMetrics['storageCache']>) => (this.storageCache = c);
    new Gauge({
      name: 'berth_repository_storage_bytes',
      help: `Bytes of the blobs linked into each repository (ECR's per-repository storage, both storage classes), the ${STORAGE_SERIES_LIMIT} largest, refreshed at most once a minute`,
      labelNames: ['registry_id', 'repository'] as const,
      registers: [this.registry],
      async collect() {
        const now = clock.now().getTime();
        let c = cache();
        if (!c || now - c.at >= STORAGE_REFRESH_MS || now < c.at) c = setCache({ at: now, rows: await usage.largestRepositories(STORAGE_SERIES_LIMIT) });
        this.reset();
        for (const r of c.rows) this.set({ registry_id: registryKeyText(r.registryKey), repository: r.repository }, r.bytes);
      },
    });
    if (archive) {
      let archived: { at: number; rows: Awaited<ReturnType<ArchiveStore['largestArchived']>> } | undefined;
      new Gauge({
        name: 'berth_repository_archive_bytes',
        help: `Of berth_repository_storage_bytes, the bytes in the archive storage class (archiveStorage), the ${STORAGE_SERIES_LIMIT} largest, refreshed at most once a minute`,
        labelNames: ['registry_id', 'repository'] as const,
        registers: [this.registry],
        async collect() {
          const now = clock.now().getTime();
          if (!archived || now - archived.at >= STORAGE_REFRESH_MS || now < archived.at) {
            archived = { at: now, rows: await archive.largestArchived(STORAGE_SERIES_LIMIT) };
          }
          this.reset();
          for (const r of archived.rows) this.set({ registry_id: registryKeyText(r.registryKey), repository: r.repository }, r.bytes);
        },
      });
    }
    if (blobDir !== undefined) {
      const total = new Gauge({
        name: 'berth_data_dir_size_bytes',
        help: 'Size of the file system of the data directory (where local blobs are kept)',
        registers: [this.registry],
      });
      new Gauge({
        name: 'berth_data_dir_free_bytes',
        help: 'Bytes available to Berth on the file system of the data directory (where local blobs are kept)',
        registers: [this.registry],
        async collect() {
          const s = await statfs(blobDir);
          this.set(s.bavail * s.bsize);
          total.set(s.blocks * s.bsize);
        },
      });
    }
  }

  /** The exposition, in Prometheus text format, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  gcPass(seconds: number, reclaimed: { bytes: number; blobs: number }): void {
    this.gcDuration.observe(seconds);
    this.gcBytes.inc(reclaimed.bytes);
    this.gcBlobs.inc(reclaimed.blobs);
  }

  lifecyclePass(seconds: number, expiredImages: number): void {
    this.lifecycleDuration.observe(seconds);
    this.lifecycleExpired.inc(expiredImages);
  }

  scanDone(seconds: number, outcome: 'complete' | 'failed'): void {
    this.scanDuration.observe({ outcome }, seconds);
  }

  private readonly failingTargets = new Set<string>();

  eventDeliveryFailed(target: string): void {
    let label = target;
    if (!this.failingTargets.has(target)) {
      if (this.failingTargets.size < MAX_TARGET_SERIES) this.failingTargets.add(target);
      else label = '_other';
    }
    this.deliveryFailures.inc({ target: label });
  }
}
