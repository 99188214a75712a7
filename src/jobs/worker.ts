/**
 * Runs durable jobs (scans today; replication and events later): every node polls the queue in
 * the metadata store, claims a few due jobs under a time-limited lock, and runs them. A job that
 * throws is retried with exponential backoff, up to MAX_ATTEMPTS. The lock is short and renewed
 * while the handler runs (a heartbeat every third of it), so a node that dies mid-job (SIGKILL,
 * OOM, a lost machine) stops renewing and another node takes the job within one lease, however
 * long the job runs; a run whose renewal finds the job claimed again (it lost the lock: its node
 * stalled past the lease) has its handler's signal aborted. Handlers must therefore be idempotent.
 *
 * Accounts share the queue: claims take turns between them (JobStore.claim), and one account
 * holds at most `perAccount` of this worker's `concurrency` slots, so one account's long jobs
 * (big scans, copies to a destination that hangs) never hold every slot while another's wait.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { JobRecord, JobStore } from '../metadata/types.js';

export type JobHandler = (job: JobRecord, signal: AbortSignal) => Promise<void>;

export interface JobWorkerOptions {
  jobs: JobStore;
  clock: Clock;
  log: Logger;
  /** How often an idle worker looks for work. */
  pollMs: number;
  /**
   * How long a claimed job stays locked without a renewal: how long another node waits for the
   * job of a node that died. The lock is renewed every `heartbeatMs` while the handler runs.
   */
  leaseMs: number;
  /** How often a running job's lock is renewed; default a third of `leaseMs` (two beats may fail). */
  heartbeatMs?: number;
  concurrency: number;
  /** One account's share of `concurrency`; default all but one slot (see accountShare). */
  perAccount?: number;
  /** This process as the holder of the jobs it claims (the composition root's node id). */
  nodeId: string;
  /**
   * How failed jobs are retried: after `firstDelayMs`, doubling up to an hour, at most
   * `maxAttempts` runs (Infinity: until they succeed). Default: 2 s, MAX_ATTEMPTS.
   */
  retry?: { firstDelayMs: number; maxAttempts: number };
}

export const MAX_ATTEMPTS = 5;
const MAX_BACKOFF_MS = 3600_000;

/**
 * One account's share of a worker's slots: all but one, so another account's job always finds
 * a slot free of the first account's, while a deployment with one account (most) loses one slot
 * of N, not half as an even split would cost it. One slot is one account's to fill.
 */
export function accountShare(concurrency: number): number {
  return Math.max(1, concurrency - 1);
}

export class JobWorker {
  private readonly handlers = new Map<string, JobHandler>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** The jobs in flight by account, for the claim's share. */
  private readonly held = new Map<string, number>();
  private readonly abort = new AbortController();
  private polling = false;
  private again = false;

  constructor(private readonly opts: JobWorkerOptions) {}

  handle(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, handler);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for work now (after this node enqueued some, say). */
  kick(): void {
    if (this.abort.signal.aborted) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    void this.poll().finally(() => {
      this.polling = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Runs until the queue holds no due job of a known kind; for the CLI and tests. */
  async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.claimAndRun();
      await Promise.all(this.inFlight);
      if (claimed === 0) return;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await Promise.all(this.inFlight);
  }

  private async poll(): Promise<void> {
    try {
      while ((await this.claimAndRun()) > 0 && !this.abort.signal.aborted) {
        // keep going while there is work and room
        if (this.inFlight.size >= this.opts.concurrency) await Promise.race(this.inFlight);
      }
    } catch (err) {
      this.opts.log.error({ err }, 'job queue poll failed');
    }
  }

  private async claimAndRun(): Promise<number> {
    const room = this.opts.concurrency - this.inFlight.size;
    if (room <= 0 || this.handlers.size === 0) return 0;
    const { jobs, clock, leaseMs } = this.opts;
    const share = { perAccount: this.opts.perAccount ?? accountShare(this.opts.concurrency), held: this.held };
    const claimed = await jobs.claim([...this.handlers.keys()], this.opts.nodeId, leaseMs, room, clock.now(), share);
    for (const job of claimed) {
      this.held.set(job.account, (this.held.get(job.account) ?? 0) + 1);
      const p = this.run(job).finally(() => {
        this.inFlight.delete(p);
        const n = (this.held.get(job.account) ?? 1) - 1;
        if (n === 0) this.held.delete(job.account);
        else this.held.set(job.account, n);
      });
      this.inFlight.add(p);
    }
    return claimed.length;
  }

  private async run(job: JobRecord): Promise<void> {
    const { jobs, clock, log } = this.opts;
    const lost = new AbortController();
    const stopBeating = this.heartbeat(job, lost);
    try {
      try {
        await this.handlers.get(job.kind)!(job, AbortSignal.any([this.abort.signal, lost.signal]));
      } finally {
        stopBeating();
      }
      await jobs.complete(job.id, this.opts.nodeId);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (lost.signal.aborted) {
        // Another claim holds the job now and will run it (and record how it went).
        log.warn({ job: job.id, kind: job.kind, attempts: job.attempts, err: message }, 'job abandoned: its lock was lost');
        return;
      }
      // A job cut short by shutdown is handed back at once; a failing one backs off, then gives up.
      const now = clock.now().getTime();
      const { firstDelayMs, maxAttempts } = this.opts.retry ?? { firstDelayMs: 2000, maxAttempts: MAX_ATTEMPTS };
      const retryAt = this.abort.signal.aborted
        ? new Date(now)
        : job.attempts < maxAttempts
          ? new Date(now + Math.min(MAX_BACKOFF_MS, firstDelayMs * 2 ** Math.min(30, job.attempts - 1)))
          : undefined;
      const retry = retryAt !== undefined;
      log.warn({ job: job.id, kind: job.kind, attempts: job.attempts, err: message, retryAt }, retry ? 'job failed, will retry' : 'job failed for good');
      await jobs.fail(job.id, this.opts.nodeId, message, retryAt).catch((e: unknown) => log.error({ err: e }, 'could not record job failure'));
    }
  }

  /**
   * Renews the job's lock every heartbeat until the returned function is called; aborts `lost`
   * when a renewal finds the lock no longer this claim's. A renewal that fails (the store down
   * for a moment) is logged and tried again at the next beat: the lease outlasts two missed
   * beats. Each beat is scheduled after the last one ended, so a slow store never stacks them.
   */
  private heartbeat(job: JobRecord, lost: AbortController): () => void {
    const { jobs, clock, log, leaseMs, nodeId } = this.opts;
    const every = this.opts.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3));
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => void beat(), every);
      timer.unref();
    };
    const beat = async () => {
      try {
        const held = await jobs.renew(job.id, nodeId, job.attempts, leaseMs, clock.now());
        if (stopped) return;
        if (!held) {
          log.warn({ job: job.id, kind: job.kind, attempts: job.attempts }, 'job lock lost to another claim; aborting its handler');
          lost.abort(new Error(`job ${job.id} was claimed by another worker`));
          return;
        }
      } catch (err) {
        if (stopped) return;
        log.warn({ err, job: job.id, kind: job.kind }, 'could not renew a job lock; trying again at the next beat');
      }
      schedule();
    };
    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}
