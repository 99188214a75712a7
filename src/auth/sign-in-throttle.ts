/**
 * Failed console sign-ins (and ChangePassword's wrong old passwords), counted per source address
 * and per identity tried (an access key id, or an account's user name) in small token buckets: each failure takes a token, tokens come
 * back slowly, and while any bucket a sign-in touches is empty the sign-in is refused before its
 * credentials are checked (so an empty bucket is no oracle). Guessing a password or a secret is
 * then a matter of centuries. Buckets are per node: a deployment of n nodes allows n times as
 * many guesses, still few. An IPv6 source counts by its /64 (core/source-address.ts).
 *
 * Memory is bounded by a cap on buckets. Only a full bucket (one refilled to its allowance, which
 * says no more than no bucket at all) is ever dropped: dropping the oldest whatever its level let
 * a caller spraying new sources flush the bucket of the identity it was guessing at. When every
 * bucket still holds a penalty, a new source or identity shares one overflow bucket of its kind,
 * so it is throttled with the others (fail closed) until some bucket has refilled.
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

export interface SignInThrottleOptions {
  source?: ThrottleLimits;
  identity?: ThrottleLimits;
  /** Buckets kept at most (the overflow buckets aside). */
  maxBuckets?: number;
}

type Kind = 'ip' | 'id';

/**
 * The identity bucket of a console password: one per user whatever the casing of the name tried,
 * as IAM's names are one in any case (login-profiles.ts finds the user so). Sign-in and
 * ChangePassword's OldPassword count in it alike, so neither is a free way to guess the other.
 */
export function passwordIdentity(accountId: string, userName: string): string {
  return `${accountId}/${userName.toLowerCase()}`;
}

interface Bucket {
  tokens: number;
  at: number;
  readonly limits: ThrottleLimits;
}

export class SignInThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly limits: Record<Kind, ThrottleLimits>;
  private readonly maxBuckets: number;
  /** Where new keys go while the map is full of penalised buckets; never dropped. */
  private readonly overflow: Record<Kind, Bucket>;
  /** No kept bucket is full before this time (ms): a sweep before it would find nothing to drop. */
  private sweepNotBefore = Infinity;

  constructor(
    private readonly clock: Clock,
    opts: SignInThrottleOptions = {},
  ) {
    this.limits = { ip: opts.source ?? SOURCE_LIMITS, id: opts.identity ?? IDENTITY_LIMITS };
    this.maxBuckets = opts.maxBuckets ?? MAX_BUCKETS;
    this.overflow = {
      ip: { tokens: this.limits.ip.burst, at: 0, limits: this.limits.ip },
      id: { tokens: this.limits.id.burst, at: 0, limits: this.limits.id },
    };
  }

  /** Seconds to wait before trying, when a bucket of this sign-in is empty; undefined when it may go on. */
  retryAfter(sourceIp: string, who: string): number | undefined {
    const now = this.clock.now().getTime();
    const wait = Math.max(this.wait(this.bucket('ip', sourceOf(sourceIp), now, false), now), this.wait(this.bucket('id', who, now, false), now));
    return wait > 0 ? Math.ceil(wait / 1000) : undefined;
  }

  /**
   * The identity's bucket alone, for a password check made by a caller already signed in as that
   * identity (ChangePassword's OldPassword): it guesses at no one else, so its source is not counted.
   */
  identityRetryAfter(who: string): number | undefined {
    const now = this.clock.now().getTime();
    const wait = this.wait(this.bucket('id', who, now, false), now);
    return wait > 0 ? Math.ceil(wait / 1000) : undefined;
  }

  identityFailed(who: string): void {
    const now = this.clock.now().getTime();
    this.take(this.bucket('id', who, now, true), now);
  }

  /** Records a failed sign-in. */
  failed(sourceIp: string, who: string): void {
    const now = this.clock.now().getTime();
    this.take(this.bucket('ip', sourceOf(sourceIp), now, true), now);
    this.take(this.bucket('id', who, now, true), now);
  }

  /**
   * The bucket a key counts in: its own when it has one or there is room for one (dropping
   * full buckets if need be), else its kind's overflow bucket. Only a failure keeps a new
   * bucket (`keep`); a read is judged by a full one, as if it were kept.
   */
  private bucket(kind: Kind, name: string, now: number, keep: boolean): Bucket {
    const key = `${kind}:${name}`;
    const b = this.buckets.get(key);
    if (b) return b;
    if (this.buckets.size >= this.maxBuckets && !this.dropFull(now)) return this.overflow[kind];
    const made = { tokens: this.limits[kind].burst, at: now, limits: this.limits[kind] };
    if (keep) {
      this.buckets.set(key, made);
      // Full again one refill after the failure about to be taken from it.
      this.sweepNotBefore = Math.min(this.sweepNotBefore, now + made.limits.refillMs);
    }
    return made;
  }

  /**
   * Drops every full bucket, and notes when the first of the rest will be full: no sweep before
   * then could drop anything (taking from a bucket only puts that later; a new bucket lowers
   * it). So a map held full of penalties costs no more sweeps than failures taken, none per read.
   */
  private dropFull(now: number): boolean {
    if (now < this.sweepNotBefore) return false;
    let firstFull = Infinity;
    for (const [key, b] of this.buckets) {
      const fullAt = b.at + (b.limits.burst - b.tokens) * b.limits.refillMs;
      if (fullAt <= now) this.buckets.delete(key);
      else firstFull = Math.min(firstFull, fullAt);
    }
    this.sweepNotBefore = firstFull;
    return this.buckets.size < this.maxBuckets;
  }

  private refill(b: Bucket, now: number): void {
    b.tokens = Math.min(b.limits.burst, b.tokens + Math.max(0, now - b.at) / b.limits.refillMs);
    b.at = now;
  }

  private wait(b: Bucket, now: number): number {
    this.refill(b, now);
    return b.tokens >= 1 ? 0 : (1 - b.tokens) * b.limits.refillMs;
  }

  private take(b: Bucket, now: number): void {
    this.refill(b, now);
    b.tokens = Math.max(0, b.tokens - 1);
  }
}
