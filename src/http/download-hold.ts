/**
 * Response bodies inside the downloads' bounds (core/download-budget.ts): a blob body that is not
 * the open pool's (a plaintext file, an S3 object relayed as stored, a small inline blob, a
 * pull-through blob from its spool) asks the blob budget for what it may hold while a slow client
 * takes it (an S3 relay granted lean reads small slabs), and a manifest (or BatchGetImage's
 * answer) asks the manifests' own. Before, each was bounded only by the number of connections: a
 * client taking a 4 MiB manifest (or a plaintext layer) at the response rule's minimum rate held
 * its buffers for as long as it liked, and 4,096 of them held gigabytes.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { askOf, type BudgetAsk, type BudgetGrant, type DownloadBudget, type HeldBytes } from '../core/download-budget.js';

/** Gives a grant back, once, whoever calls it first. */
export type Release = () => void;

const NOTHING: Release = () => undefined;

/**
 * What `body` (`length` bytes) may hold, from `budget`, waiting as the budget says; refused, the
 * body is destroyed (its file or S3 read let go) and the budget's 429 thrown. A release without a
 * promise when there is room now (or nothing to hold: the open pool's downloads), so the common
 * download goes on in the same turn as before.
 */
export function holdBody(budget: DownloadBudget | undefined, body: Readable, length: number): Release | Promise<Release> {
  const ask = budget ? askOf(body, length) : undefined;
  if (!budget || !ask || ask.full === 0) return NOTHING;
  // A body with a lean shape (HeldBytes.lean) takes it when that is what it was granted.
  const held = hold(budget, ask, ask.lean < ask.full ? (g) => g.lean && (body as Partial<HeldBytes>).lean?.() : undefined);
  if (typeof held === 'function') return held;
  return held.catch((e: unknown) => {
    body.destroy();
    throw e;
  });
}

/** `bytes` of `budget`, at once when there is room (no promise on the fast path), else as take() says. */
export async function holdBytes(budget: DownloadBudget, bytes: number): Promise<Release> {
  return hold(budget, { full: bytes, lean: bytes });
}

/** Whether `budget` has room for `bytes` now: the grant's release, or undefined (then ask with holdBytes). */
export function holdBytesNow(budget: DownloadBudget, bytes: number): Release | undefined {
  const g = budget.takeNow({ full: bytes, lean: bytes });
  return g && releaseOf(budget, g);
}

/**
 * Buffers several responses send at once (a manifest from the SQLite read cache is one Buffer
 * for every request) are held once: counted from the first response to the last. Known by the
 * Buffer object, not its memory: small Buffers share the memory of Node's pool.
 */
export class SharedHolds {
  private readonly held = new Map<Buffer, { responses: number; release: Release }>();

  /** A release if `buf` is held already (one more response counted), else undefined. */
  join(buf: Buffer): Release | undefined {
    const h = this.held.get(buf);
    if (!h) return undefined;
    h.responses++;
    return this.leave(buf, h);
  }

  /** `buf` is now held under `release` (a grant of its bytes); returns this response's release. */
  begin(buf: Buffer, release: Release): Release {
    const h = { responses: 1, release };
    this.held.set(buf, h);
    return this.leave(buf, h);
  }

  /** Buffers held now (for tests). */
  get size(): number {
    return this.held.size;
  }

  private leave(key: Buffer, h: { responses: number; release: Release }): Release {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--h.responses > 0) return;
      if (this.held.get(key) === h) this.held.delete(key);
      h.release();
    };
  }
}

function hold(budget: DownloadBudget, ask: BudgetAsk, granted?: (g: BudgetGrant) => void): Release | Promise<Release> {
  const now = budget.takeNow(ask);
  if (now) {
    granted?.(now);
    return releaseOf(budget, now);
  }
  return budget.take(ask).then((g) => {
    granted?.(g);
    return releaseOf(budget, g);
  });
}

function releaseOf(budget: DownloadBudget, g: BudgetGrant): Release {
  let given = false;
  return () => {
    if (given) return;
    given = true;
    budget.give(g);
  };
}

/**
 * Calls `release` once `res`, already ended, holds no more of its body: at once when the socket
 * took it all in the write (the common case: a manifest of a few KiB), else when the response
 * closes (sent, or cut).
 */
export function releaseWhenSent(res: ServerResponse, release: Release, signal?: AbortSignal): void {
  // The signal (server.ts's): the response closed unfinished, before this was called.
  if (res.writableLength === 0 || res.writableFinished || res.destroyed || signal?.aborted) release();
  else res.once('close', release);
}
