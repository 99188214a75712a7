/**
 * Periodic background work (lifecycle evaluation, garbage collection) that runs on one node at
 * a time: every node ticks on the interval, and only the one that takes the named lease in the
 * metadata store runs. The lease lasts one interval, so across the cluster a task runs about
 * once per interval; a node that dies simply stops renewing and another takes over.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { LeaseStore } from '../metadata/types.js';

/** Identifies this process as a lease holder. */
export const NODE_ID = randomUUID();

export interface PeriodicTaskOptions {
  name: string;
  intervalMs: number;
  leases: LeaseStore;
  clock: Clock;
  log: Logger;
  run: () => Promise<void>;
  /** Lease holder id; this process's NODE_ID unless given. */
  holder?: string;
}

export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private stopped = false;

  constructor(private readonly opts: PeriodicTaskOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** Starts ticking; the first tick comes after one interval. A zero interval never runs. */
  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Runs now if this node can take the lease; resolves when the run is over, true if it ran. */
  async tick(): Promise<boolean> {
    if (this.running || this.stopped) return false;
    const { name, intervalMs, leases, clock, log } = this.opts;
    this.running = (async (): Promise<boolean> => {
      if (!(await leases.acquire(name, this.opts.holder ?? NODE_ID, Math.max(intervalMs, 1000), clock.now()))) return false;
      const started = Date.now();
      try {
        await this.opts.run();
        log.debug({ task: name, ms: Date.now() - started }, 'periodic task done');
      } catch (err) {
        log.error({ task: name, err }, 'periodic task failed');
      }
      return true;
    })();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Stops ticking and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
