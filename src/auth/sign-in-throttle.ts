/**
 * Failed console sign-ins, counted per source address and per identity tried (an access key id,
 * or an account's user name) in small token buckets: each failure takes a token, tokens come
 * back slowly, and while any bucket a sign-in touches is empty the sign-in is refused before its
 * credentials are checked (so an empty bucket is no oracle). Guessing a password or a secret is
 * then a matter of centuries. Buckets are per node: a deployment of n nodes allows n times as
 * many guesses, still few. An IPv6 source counts by its /64 (core/source-address.ts).
 */
import type { Clock } from '../core/clock.js';
import { sourceOf } from '../core/source-address.js';

export interface ThrottleLimits {
  /** Failures a bucket absorbs at once. */
  burst: number;
  /** One failure is forgiven per this many milliseconds. */
  refillMs: number;
}

/** A source address has more room: several people may sign in from behind one address. */
export const SOURCE_LIMITS: ThrottleLimits = { burst: 30, refillMs: 10_000 };
export const IDENTITY_LIMITS: ThrottleLimits = { burst: 10, refillMs: 60_000 };
/** Bounded memory whatever the number of addresses and names tried. */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class SignInThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    private readonly source: ThrottleLimits = SOURCE_LIMITS,
    private readonly identity: ThrottleLimits = IDENTITY_LIMITS,
  ) {}

  /** Seconds to wait before trying, when a bucket of this sign-in is empty; undefined when it may go on. */
  retryAfter(sourceIp: string, who: string): number | undefined {
    const waits = [this.wait(`ip:${sourceOf(sourceIp)}`, this.source), this.wait(`id:${who}`, this.identity)].filter((w) => w > 0);
    return waits.length === 0 ? undefined : Math.ceil(Math.max(...waits) / 1000);
  }

  /** Records a failed sign-in. */
  failed(sourceIp: string, who: string): void {
    this.take(`ip:${sourceOf(sourceIp)}`, this.source);
    this.take(`id:${who}`, this.identity);
  }

  private level(key: string, limits: ThrottleLimits): Bucket {
    const now = this.clock.now().getTime();
    const b = this.buckets.get(key);
    if (!b) return { tokens: limits.burst, at: now };
    const tokens = Math.min(limits.burst, b.tokens + (now - b.at) / limits.refillMs);
    return { tokens, at: now };
  }

  private wait(key: string, limits: ThrottleLimits): number {
    const b = this.level(key, limits);
    return b.tokens >= 1 ? 0 : (1 - b.tokens) * limits.refillMs;
  }

  private take(key: string, limits: ThrottleLimits): void {
    const b = this.level(key, limits);
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.delete(key);
    if (this.buckets.size >= MAX_BUCKETS) {
      // Oldest first (insertion order, refreshed on each failure): those have refilled the most.
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(key, b);
  }
}
