/**
 * Every Prometheus metric Berth exposes, in one registry (prom-client): request counters and
 * latencies (fed by ./request-metrics.ts), background work (through core's Telemetry), and
 * gauges read from the metadata when scraped — each a small bounded query, the per-repository
 * storage figure cached for a minute. Names and labels are documented in the README ("Metrics").
 */
import { statfs } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Telemetry } from '../core/telemetry.js';
import type { UsageStore } from '../metadata/usage.js';

/** Request latency buckets, seconds: a manifest GET is milliseconds, a large layer minutes. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Pass and scan buckets, seconds. */
const PASS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Repositories shown by berth_repository_storage_bytes: the largest ones, a bound on series. */
export const STORAGE_SERIES_LIMIT = 1000;
const STORAGE_REFRESH_MS = 60_000;

export interface MetricSources {
  usage: UsageStore;
  clock: Clock;
  /** The data directory when blobs are kept there (not S3): its file system's free and total bytes. */
  blobDir?: string;
}

export class BerthMetrics implements Telemetry {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests answered, by API (oci, ecr, ecr-public, iam, sts, kms, ...), operation and status code',
    labelNames: ['api', 'operation', 'code'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'Time from a request arriving to its response closing, by API, operation and status class (2xx, 4xx, 5xx)',
    labelNames: ['api', 'operation', 'status_class'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly received = new Counter({
    name: 'berth_http_received_bytes_total',
    help: 'Request body bytes read, by API and operation',
    labelNames: ['api', 'operation'] as const,
    registers: [this.registry],
  });
  readonly sent = new Counter({
    name: 'berth_http_sent_bytes_total',
    help: 'Response body bytes written, by API and operation',
    labelNames: ['api', 'operation'] as const,
    registers: [this.registry],
  });
  readonly pulls = new Counter({
    name: 'berth_repository_pulls_total',
    help: "Manifest GETs answered 200 on /v2, by registry and repository (ECR's RepositoryPullCount), counted by this node",
    labelNames: ['registry_id', 'repository'] as const,
    registers: [this.registry],
  });

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
  private readonly replicationLagSeconds = new Gauge({
    name: 'berth_replication_lag_seconds',
    help: 'Age of the oldest image not yet replicated, by destination',
    labelNames: ['destination'] as const,
    registers: [this.registry],
  });

  private storageCache: { at: number; rows: Awaited<ReturnType<UsageStore['largestRepositories']>> } | undefined;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry });
    const { usage, clock, blobDir } = sources;
    new Gauge({
      name: 'berth_upload_sessions',
      help: 'Upload sessions open (all nodes: read from the metadata)',
      registers: [this.registry],
      async collect() {
        this.set(await usage.openUploads());
      },
    });
    const queued = new Gauge({
      name: 'berth_jobs_queued',
      help: 'Jobs waiting or running in the durable queue, by kind (all nodes)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
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
        queued.reset();
        for (const q of queues) {
          this.set({ kind: q.kind }, Math.max(0, (now - q.oldest.getTime()) / 1000));
          queued.set({ kind: q.kind }, q.queued);
        }
      },
    });
    const cache = () => this.storageCache;
    const setCache = (c: NonNullable<BerthMetrics['storageCache']>) => (this.storageCache = c);
    new Gauge({
      name: 'berth_repository_storage_bytes',
      help: `Bytes of the blobs linked into each repository (ECR's per-repository storage), the ${STORAGE_SERIES_LIMIT} largest, refreshed at most once a minute`,
      labelNames: ['registry_id', 'repository'] as const,
      registers: [this.registry],
      async collect() {
        const now = clock.now().getTime();
        let c = cache();
        if (!c || now - c.at >= STORAGE_REFRESH_MS || now < c.at) c = setCache({ at: now, rows: await usage.largestRepositories(STORAGE_SERIES_LIMIT) });
        this.reset();
        for (const r of c.rows) this.set({ registry_id: r.registryId, repository: r.repository }, r.bytes);
      },
    });
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

  eventDeliveryFailed(target: string): void {
    this.deliveryFailures.inc({ target });
  }

  replicationLag(destination: string, seconds: number): void {
    this.replicationLagSeconds.set({ destination }, seconds);
  }
}
