/**
 * The memory downloads in flight may hold at once: one process-wide figure, so that no number of
 * clients, each taking its download at the response rule's minimum rate (http/slow-clients.ts),
 * holds more than it. The open pool's downloads ask for their rings (and a fed download's input
 * ring); a blob body that is not the pool's (a plaintext file or S3 stream, a small inline blob)
 * for what it may hold (http/oci/blobs.ts); manifests have a budget of their own (the same class),
 * so that a manifest GET never queues behind blob downloads.
 *
 * A download gets a full ring while the full rings held stay within half the budget (the rings
 * an honest fast download needs for its speed), else a lean one (a chunk or two) within the
 * whole budget; with no room for either it waits, first come first served, for a download to
 * end, at most `waitMs` and behind at most `maxWaiting` others, and is then refused with 429 and
 * Retry-After (an OCI client's cue to try again), never a 500. Half the budget, not all of it,
 * for full rings: once slow readers have taken their share, later downloads still get lean rings
 * rather than a queue.
 */
import { Codes, RegistryError } from './errors.js';

/** What a download asked for: a full ring's bytes and a lean one's. */
export interface BudgetAsk {
  full: number;
  lean: number;
}

/** What a download was given: which shape, and its bytes (given back once it ends). */
export interface BudgetGrant {
  lean: boolean;
  bytes: number;
}

export interface DownloadBudgetOptions {
  /** Bytes of rings downloads in flight may hold at once. */
  bytes: number;
  /** How long a download with no room waits for one before it is refused; default 5 s. */
  waitMs?: number;
  /** Downloads that may wait at once (each holds its blob's fd or store read); more are refused at once. Default 256. */
  maxWaiting?: number;
}

interface Waiter {
  ask: BudgetAsk;
  grant: (g: BudgetGrant) => void;
  timer: NodeJS.Timeout;
}

export class DownloadBudget {
  readonly bytes: number;
  /** Bytes granted and not yet given back: all rings, and the full ones among them. */
  held = 0;
  heldFull = 0;
  /** Downloads given a lean ring, and downloads refused for want of room (for tests, diagnostics, metrics). */
  leanGrants = 0;
  refused = 0;
  /** Asks that found no room at once and waited (then granted or refused). */
  waited = 0;
  private readonly waitMs: number;
  private readonly maxWaiting: number;
  private readonly waiting: Waiter[] = [];

  constructor(opts: DownloadBudgetOptions) {
    if (!(opts.bytes > 0)) throw new Error(`a download budget needs a positive size, got ${opts.bytes}`);
    this.bytes = opts.bytes;
    this.waitMs = opts.waitMs ?? 5000;
    this.maxWaiting = opts.maxWaiting ?? 256;
  }

  /** Downloads waiting for room (for tests and diagnostics). */
  get waiters(): number {
    return this.waiting.length;
  }

  /** A full ring's bytes, a lean one's, or, with no room for either in `waitMs`, a RegistryError (429). */
  async take(ask: BudgetAsk): Promise<BudgetGrant> {
    // Behind others already waiting: first come, first served.
    const now = this.takeNow(ask);
    if (now) return now;
    if (this.waiting.length >= this.maxWaiting) throw this.refusal();
    this.waited++;
    return new Promise<BudgetGrant>((resolve, reject) => {
      const w: Waiter = {
        ask,
        grant: resolve,
        timer: setTimeout(() => {
          const at = this.waiting.indexOf(w);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(this.refusal());
        }, this.waitMs),
      };
      this.waiting.push(w);
    });
  }

  /** A grant if there is room now and no one is waiting (first come, first served); else undefined. */
  takeNow(ask: BudgetAsk): BudgetGrant | undefined {
    return this.waiting.length === 0 ? this.tryTake(ask) : undefined;
  }

  /** One more full ring (a download's second stripe), only if it fits the full share now. */
  tryExtra(full: number): BudgetGrant | undefined {
    if (this.waiting.length > 0 || this.heldFull + full > this.bytes / 2) return undefined;
    return this.granted({ lean: false, bytes: full });
  }

  /** A download ended: its bytes are free for the next, and for those waiting. */
  give(g: BudgetGrant): void {
    this.held -= g.bytes;
    if (!g.lean) this.heldFull -= g.bytes;
    while (this.waiting.length > 0) {
      const g2 = this.tryTake(this.waiting[0]!.ask);
      if (!g2) break;
      const w = this.waiting.shift()!;
      clearTimeout(w.timer);
      w.grant(g2);
    }
  }

  private tryTake(ask: BudgetAsk): BudgetGrant | undefined {
    if (this.heldFull + ask.full <= this.bytes / 2 && this.held + ask.full <= this.bytes) return this.granted({ lean: false, bytes: ask.full });
    // An ask larger than the whole budget (a manifest bigger than the manifests' budget) gets in
    // alone rather than never.
    if (this.held + ask.lean <= this.bytes || this.held === 0) {
      this.leanGrants++;
      return this.granted({ lean: true, bytes: ask.lean });
    }
    return undefined;
  }

  private granted(g: BudgetGrant): BudgetGrant {
    this.held += g.bytes;
    if (!g.lean) this.heldFull += g.bytes;
    return g;
  }

  private refusal(): RegistryError {
    this.refused++;
    const seconds = Math.max(1, Math.ceil(this.waitMs / 1000));
    return new RegistryError(Codes.TooManyRequests, 'too many downloads in flight; retry shortly', undefined, { retryAfterSeconds: seconds });
  }
}

/** What a response body may hold in memory while its client takes it (ask the budget for that). */
export interface HeldBytes {
  /** 0 for a body that asked a budget for itself (the open pool's downloads). */
  readonly heldBytes: number;
  /** What it holds once lean() was called, for a body with a lean shape (an S3 relay's small slabs). */
  readonly leanHeldBytes?: number;
  /** Take the lean shape: called before the body is read, when the budget granted lean. */
  lean?(): void;
}

/**
 * What `body`, written to a client that takes it slowly, may hold: what it declares, else two of
 * its reads (one in its own buffer, one queued on the socket), and never more than its length.
 */
export function bytesHeldBy(body: { readableHighWaterMark: number }, length: number): number {
  const declared = (body as Partial<HeldBytes>).heldBytes;
  return Math.min(declared ?? 2 * body.readableHighWaterMark, length);
}

/** The budget ask for `body`: bytesHeldBy, and its lean shape's bytes when it has one (else the same). */
export function askOf(body: { readableHighWaterMark: number }, length: number): BudgetAsk {
  const full = bytesHeldBy(body, length);
  const { leanHeldBytes, lean } = body as Partial<HeldBytes>;
  return { full, lean: leanHeldBytes !== undefined && typeof lean === 'function' ? Math.min(leanHeldBytes, full) : full };
}
