/**
 * A server's background work: periodic tasks that run on one node at a time (lifecycle, GC),
 * the durable job worker that runs on every node (scans, re-evaluation after advisory imports),
 * and the batched pull-time writer. Started after the server listens, stopped before the stores
 * close.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/schema.js';
import { noTelemetry, type Telemetry } from '../core/telemetry.js';
import { everyVault } from '../blobstore/vaults.js';
import { EventDeliverer } from '../events/deliverer.js';
import type { MayInvoke } from '../events/destination-sender.js';
import type { SecretBox } from '../events/service.js';
import { GarbageCollector } from '../gc/collector.js';
import { ArchiveMover } from '../lifecycle/archive-mover.js';
import { ARCHIVE_MOVE_JOB } from '../registry/storage-classes.js';
import { JobWorker, MAX_ATTEMPTS } from '../jobs/worker.js';
import { LifecycleEngine } from '../lifecycle/engine.js';
import { dayOf } from '../metadata/usage.js';
import { sampleStorage } from '../metrics/storage-sampler.js';
import type { UsageRecorder } from '../metrics/usage-recorder.js';
import type { Registry } from '../registry/registry.js';
import { SCAN_JOB } from '../registry/scans.js';
import { AdvisoryCatalog } from '../scan/catalog.js';
import { ScanPool } from '../scan/pool/scan-pool.js';
import { REEVALUATE_JOB, Scanner } from '../scan/scanner.js';
import { REPLICATE_JOB } from '../registry/replication.js';
import { Replicator, type ReplicatorOptions } from '../replication/replicator.js';
import { BackfillRunner } from '../replication/backfill-runner.js';
import { BACKFILL_PREPARE_JOB, BACKFILL_RUN_JOB } from '../registry/replication-backfills.js';
import { NODE_ID, PeriodicTask } from './periodic.js';
import { SIGN_JOB } from '../registry/signing.js';
import type { SigningProfiles } from '../signer/profiles.js';
import { SigningJob } from '../signer/signing-job.js';

/** Pull times are written in batches this often (see registry/pull-recorder.ts). */
const PULL_FLUSH_MS = 5_000;
/** Transfer figures for `berth usage` are written in batches this often (see metrics/usage-recorder.ts). */
const USAGE_FLUSH_MS = 10_000;
const JOB_POLL_MS = 2_000;
/** Events written by another node (or retries coming due) are looked for this often. */
const EVENT_POLL_MS = 1_000;

/** The garbage collector over a registry's stores, with the configured grace and upload age. */
export function garbageCollector(config: Config, registry: Registry): GarbageCollector {
  const { meta, vaults, clock, log } = registry.ctx;
  return new GarbageCollector(
    { gc: meta.gc, blobs: everyVault(vaults), clock, log },
    { graceMs: config.gcGraceSeconds * 1000, uploadMaxAgeMs: config.uploadMaxAgeSeconds * 1000 },
  );
}

export interface Background {
  readonly tasks: PeriodicTask[];
  readonly jobs: JobWorker;
  readonly events: EventDeliverer;
  start(): void;
  stop(): Promise<void>;
}

/** Who hears how background work went, and the recorder of request transfer to flush. */
export interface BackgroundReporting {
  telemetry?: Telemetry;
  usage?: UsageRecorder;
  /** How replication reaches its destinations; without it, replication jobs wait for a node that has it. */
  replication?: Pick<ReplicatorOptions, 'endpointOf' | 'credential'>;
  /** Managed signing's profiles; without them, signing jobs wait for a node that has them. */
  signer?: SigningProfiles;
  /** Whether an EventBridge target's role may invoke its API destination; without it, none may. */
  mayInvoke?: MayInvoke;
}

export function createBackground(config: Config, registry: Registry, secrets: SecretBox, reporting: BackgroundReporting = {}): Background {
  const { meta, clock, log } = registry.ctx;
  const telemetry = reporting.telemetry ?? noTelemetry;
  const periodic = (name: string, seconds: number, run: () => Promise<void>) =>
    new PeriodicTask({ name, intervalMs: seconds * 1000, leases: meta.leases, clock, log, run });

  const usageSampler = periodic('usage-sample', config.usageSampleIntervalSeconds, async () => {
    const samples = await sampleStorage(meta.usage, clock.now());
    log.debug({ samples }, 'storage sampled for usage');
  });
  const lifecycle = new LifecycleEngine(registry);
  const gc = garbageCollector(config, registry);
  const tasks = [
    periodic('lifecycle', config.lifecycleIntervalSeconds, async () => {
      const started = performance.now();
      const reports = await lifecycle.runAll();
      const expired = reports.reduce((n, r) => n + r.expired.length + r.referrersExpired, 0);
      telemetry.lifecyclePass((performance.now() - started) / 1000, expired);
      log.info({ repositories: reports.length, expired }, 'lifecycle policies evaluated');
    }),
    periodic('gc', config.gcIntervalSeconds, async () => {
      const { reviewed, deleted, swept, uploadsReclaimed, ms } = await gc.run();
      telemetry.gcPass(ms / 1000, swept);
      // Replication backfills ECR no longer lists (ended over 90 days ago) go on the same pass.
      const backfillsPruned = await registry.backfills.prune();
      log.info({ reviewed, deleted, swept, uploadsReclaimed, backfillsPruned, ms }, 'garbage collection pass done');
    }),
    usageSampler,
  ];

  // Renewed while a job runs (worker.ts): a job may take longer than its lease, a dead node's
  // jobs wait for one lease only.
  const leaseMs = config.jobLeaseSeconds * 1000;
  // One account's slots of each worker: the operator's number, or the worker's default (all but one).
  const share = config.jobSlotsPerAccount === undefined ? {} : { perAccount: config.jobSlotsPerAccount };
  const jobs = new JobWorker({ jobs: meta.jobs, clock, log, pollMs: JOB_POLL_MS, leaseMs, concurrency: config.scanConcurrency, nodeId: NODE_ID, ...share });
  // Layers are parsed on worker threads, as many at once as scans may run (the job worker's
  // concurrency): the event loop only reads the blobs.
  const scanner = new Scanner(registry, new AdvisoryCatalog(meta.scans), new ScanPool({ size: config.scanConcurrency }));
  jobs.handle(SCAN_JOB, async (job, signal) => {
    const started = performance.now();
    try {
      await scanner.run(job, signal);
      telemetry.scanDone((performance.now() - started) / 1000, 'complete');
    } catch (err) {
      telemetry.scanDone((performance.now() - started) / 1000, 'failed');
      throw err;
    }
  });
  jobs.handle(REEVALUATE_JOB, async (_job, signal) => {
    const { inventories, updated } = await scanner.reevaluate(signal);
    log.info({ inventories, updated }, 'stored inventories re-evaluated against new advisories');
  });

  // Replication has a worker of its own: a copy waits on the network, not on this node's
  // scanner, and a destination that is down is retried (with backoff) until it returns.
  const replicationJobs = new JobWorker({
    jobs: meta.jobs,
    clock,
    log,
    pollMs: JOB_POLL_MS,
    leaseMs,
    concurrency: config.replicationConcurrency,
    nodeId: NODE_ID,
    ...share,
    retry: { firstDelayMs: config.replicationRetrySeconds * 1000, maxAttempts: Number.POSITIVE_INFINITY },
  });
  if (reporting.replication) {
    const replicator = new Replicator({ registry, log, ...reporting.replication });
    replicationJobs.handle(REPLICATE_JOB, (job, signal) => replicator.run(job, signal));
    // Backfills run on the same worker: they copy as pushes' replications do.
    const backfills = new BackfillRunner(registry, replicator, log);
    replicationJobs.handle(BACKFILL_PREPARE_JOB, (job) => backfills.prepare(job));
    replicationJobs.handle(BACKFILL_RUN_JOB, (job, signal) => backfills.run(job, signal));
  }

  // Archive moves wait on a per-blob lease and on bytes: their own worker, retried until done
  // (an image left ACTIVATING for want of retries would never come back).
  const archiveJobs = new JobWorker({
    jobs: meta.jobs,
    clock,
    log,
    pollMs: JOB_POLL_MS,
    leaseMs,
    concurrency: 2,
    nodeId: NODE_ID,
    ...share,
    retry: { firstDelayMs: 1000, maxAttempts: Number.POSITIVE_INFINITY },
  });
  const mover = new ArchiveMover(registry);
  archiveJobs.handle(ARCHIVE_MOVE_JOB, (job, signal) => mover.run(job, signal));

  // Signing has its own worker: a signature is milliseconds of work that should not queue behind scans.
  const signingJobs = new JobWorker({ jobs: meta.jobs, clock, log, pollMs: JOB_POLL_MS, leaseMs, concurrency: 2, nodeId: NODE_ID, ...share });
  if (reporting.signer) {
    const signer = new SigningJob(registry, reporting.signer, { log, maxAttempts: MAX_ATTEMPTS, signingAgent: 'Berth managed signing' });
    signingJobs.handle(SIGN_JOB, (job, signal) => signer.run(job, signal));
  }

  // Events: every node fans the outbox out and delivers, claiming rows as jobs are claimed.
  const events = new EventDeliverer({
    meta,
    clock,
    log,
    secrets,
    nodeId: NODE_ID,
    concurrency: config.eventsDeliveryConcurrency,
    pollMs: EVENT_POLL_MS,
    telemetry,
    reach: { outboundAllow: config.outboundAllow, outboundDeny: config.outboundDeny },
    mayInvoke: reporting.mayInvoke ?? (async () => false),
  });

  return {
    tasks,
    jobs,
    events,
    start() {
      for (const t of tasks) t.start();
      // A day with no sample yet gets one now, not an interval later: a node restarted more
      // often than the interval would otherwise never sample (the lease keeps it to one node).
      if (config.usageSampleIntervalSeconds > 0) {
        void meta.usage.lastSampledDay().then(
          (day) => (day === dayOf(clock.now()) ? undefined : usageSampler.tick()),
          (err: unknown) => log.warn({ err }, 'could not read the last usage sample'),
        );
      }
      registry.pulls.start(PULL_FLUSH_MS);
      reporting.usage?.start(USAGE_FLUSH_MS);
      registry.ctx.jobsQueued = () => {
        jobs.kick();
        replicationJobs.kick();
        archiveJobs.kick();
        signingJobs.kick();
      };
      registry.ctx.eventsQueued = () => events.kick();
      jobs.start();
      replicationJobs.start();
      archiveJobs.start();
      signingJobs.start();
      events.start();
    },
    async stop() {
      await Promise.all(tasks.map((t) => t.stop()));
      await jobs.stop();
      await replicationJobs.stop();
      await archiveJobs.stop();
      await signingJobs.stop();
      await events.stop();
      await reporting.usage?.stop();
    },
  };
}
