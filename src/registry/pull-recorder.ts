/**
 * Records when images are pulled (ECR's lastRecordedPullTime, lifecycle's sinceImagePulled)
 * without a write per pull: pulls collect in memory and are written in one transaction per
 * flush. ECR itself only promises to refresh the time within 24 hours; Berth flushes every few
 * seconds, on close, and before lifecycle evaluates, so at most the last few seconds of a
 * crashed node's pulls are lost.
 *
 * A pull names who pulled (an IAM user's or role's ARN): pulls by a principal the image's
 * registry excludes (pull-exclusions.ts) are dropped at the flush, one read per registry and
 * flush, so a pull costs no read of its own.
 */
import type { Digest } from '../core/digest.js';
import { registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { RegistryContext } from './context.js';

const MAX_PENDING = 100_000;

/** Who pulled, as pull-time update exclusions name principals. */
export interface Puller {
  registryKey: RegistryKey;
  /** An IAM user's ARN, or for a role session the role's; undefined for principals no exclusion can name (root, anonymous). */
  principalArn?: string;
}

interface Pending {
  repositoryId: number;
  digest: Digest;
  at: Date;
  registryKey?: RegistryKey;
  principalArn?: string;
}

export class PullRecorder {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: RegistryContext) {}

  record(repositoryId: number, digest: Digest, by?: Puller): void {
    const principalArn = by?.principalArn;
    // One entry per image and principal: an excluded principal's pull must not hide another's.
    this.pending.set(`${repositoryId}\n${digest}\n${principalArn ?? ''}`, {
      repositoryId,
      digest,
      at: this.ctx.clock.now(),
      ...(principalArn !== undefined && by && { registryKey: by.registryKey, principalArn }),
    });
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      const pulls = await this.withoutExcluded(batch);
      await this.ctx.meta.manifests.recordPulls(pulls.map(({ repositoryId, digest, at }) => ({ repositoryId, digest, at })));
    } catch (err) {
      this.ctx.log.warn({ err, pulls: batch.length }, 'could not record pull times');
    }
  }

  private async withoutExcluded(batch: Pending[]): Promise<Pending[]> {
    const byRegistry = new Map<string, { key: RegistryKey; arns: Set<string> }>();
    for (const p of batch) {
      if (p.principalArn === undefined || p.registryKey === undefined) continue;
      const text = registryKeyText(p.registryKey);
      const entry = byRegistry.get(text) ?? byRegistry.set(text, { key: p.registryKey, arns: new Set() }).get(text)!;
      entry.arns.add(p.principalArn);
    }
    if (byRegistry.size === 0) return batch;
    const excluded = new Map<string, Set<string>>();
    for (const [text, { key, arns }] of byRegistry) excluded.set(text, await this.ctx.meta.pullExclusions.excluded(key, [...arns]));
    return batch.filter(
      (p) => p.principalArn === undefined || p.registryKey === undefined || !excluded.get(registryKeyText(p.registryKey))?.has(p.principalArn),
    );
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
