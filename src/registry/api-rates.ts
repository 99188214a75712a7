/**
 * API throttling as ECR does it: a token bucket per account and operation, refilled at the
 * operation's rate (requests per second) and holding at most that many tokens (the burst). A
 * request takes a token or is refused with ThrottlingException (JSON API) or 429 TOOMANYREQUESTS
 * with Retry-After (/v2); the AWS SDKs and CLI back off and retry. Buckets are per account, so
 * one account's storm empties only its own.
 *
 * State is per node: each of `nodes` nodes allows rate ÷ nodes on its own. A shared bucket in the
 * metadata store would cost every request a database write — the very load throttling exists to
 * shed — while a load balancer already spreads an account's requests about evenly, so the
 * deployment's total is the configured rate within the balancer's unevenness.
 */
import { Codes, RegistryError } from '../core/errors.js';

/**
 * ECR's published default rates (requests per second per account and region) for the image
 * push and pull APIs; ECR publishes no rate for the other operations.
 */
export const ECR_API_RATES: Readonly<Record<string, number>> = Object.freeze({
  GetAuthorizationToken: 500,
  BatchCheckLayerAvailability: 1000,
  InitiateLayerUpload: 100,
  UploadLayerPart: 500,
  CompleteLayerUpload: 100,
  PutImage: 10,
  BatchGetImage: 2000,
  GetDownloadUrlForLayer: 3000,
});

/** config `apiRates`: "ecr", or operation → rate, where `"ecr": true` starts from ECR's table. */
export type ApiRatesSpec = 'ecr' | Record<string, number | true>;

/** The rates a spec means (requests per second per account, for the whole deployment). */
export function resolveApiRates(spec: ApiRatesSpec): Record<string, number> {
  if (spec === 'ecr') return { ...ECR_API_RATES };
  const out: Record<string, number> = spec.ecr === true ? { ...ECR_API_RATES } : {};
  for (const [op, rate] of Object.entries(spec)) {
    if (op === 'ecr') continue;
    if (rate === true || !(rate > 0)) throw new Error(`apiRates: ${op} must be a number of requests per second above 0`);
    out[op] = rate;
  }
  return out;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets beyond this many are swept (a full bucket is the same as none). */
const SWEEP_AT = 50_000;

export class ApiRates {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rates: ReadonlyMap<string, number>;

  /** `rates`: the deployment's; this node allows `1/nodes` of each. `nowMs`: the clock. */
  constructor(
    rates: Record<string, number>,
    nodes: number,
    private readonly nowMs: () => number,
  ) {
    this.rates = new Map(Object.entries(rates).map(([op, r]) => [op, r / nodes]));
  }

  /**
   * Takes a token for `operation` of `account`, or throws Throttled with the seconds until one
   * is due. Operations without a rate are never throttled.
   */
  take(account: string, operation: string): void {
    const rate = this.rates.get(operation);
    if (rate === undefined) return;
    const key = `${account}\u0000${operation}`;
    const now = this.nowMs();
    // At least one token of burst, so a share below 1/s still lets a request through now and then.
    const burst = Math.max(rate, 1);
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now);
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - b.tokens) / rate));
    throw new RegistryError(Codes.Throttled, `Rate exceeded for ${operation} (${formatRate(rate)} requests per second per account on this node)`, undefined, {
      retryAfterSeconds,
    });
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      const rate = this.rates.get(key.slice(key.indexOf('\u0000') + 1)) ?? 1;
      if (b.tokens + ((now - b.at) / 1000) * rate >= Math.max(rate, 1)) this.buckets.delete(key);
    }
  }
}

function formatRate(r: number): string {
  return Number.isInteger(r) ? String(r) : r.toFixed(2);
}
