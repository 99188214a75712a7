/**
 * Records when images are pulled (ECR's lastRecordedPullTime, lifecycle's sinceImagePulled)
 * without a write per pull: pulls collect in memory and are written in one transaction per
 * flush. ECR itself only promises to refresh the time within 24 hours; Berth flushes every few
 * seconds, on close, and before lifecycle evaluates, so at most the last few seconds of a
 * crashed node's pulls are lost.
 */
import type { Digest } from '../core/digest.js';
import type { RegistryContext } from './context.js';

const MAX_PENDING = 100_000;

export class PullRecorder {
  private pending = new Map<string, { repositoryId: number; digest: Digest; at: Date }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: RegistryContext) {}

  record(repositoryId: number, digest: Digest): void {
    this.pending.set(`${repositoryId}\n${digest}`, { repositoryId, digest, at: this.ctx.clock.now() });
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const pulls = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.ctx.meta.manifests.recordPulls(pulls);
    } catch (err) {
      this.ctx.log.warn({ err, pulls: pulls.length }, 'could not record pull times');
    }
  }

  /** Flushes every `ms` until stopped. */
  start(ms: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
