/**
 * Runs image inventories on worker threads, at most `size` at once (later scans wait their
 * turn), so that decompressing and parsing layers never holds up the server's event loop: a
 * layer of 100,000 tiny files, or a zstd layer decoded in JavaScript, used to block every
 * request for seconds. Each scan gets a fresh worker, ended when the scan is, so nothing one
 * image did can leak into the next, with its heap capped by `resourceLimits`; its Buffers (kept
 * files, chunks in flight) are bounded by the ScanLimits and the feed's window. A worker that
 * runs out of memory or dies ends its scan FAILED; the server carries on.
 */
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Inventory } from '../inventory/types.js';
import { ScanAbortedError, ScanError, toScanError } from '../layers/errors.js';
import { resolveLimits, type ScanLimits } from '../layers/limits.js';
import { Credits, feedLayers } from './layer-feed.js';
import { WINDOW_CHUNKS, deserializeScanError, type FromWorker, type WorkerInput } from './protocol.js';

/** Turns an image's layers, lowest first, into its package inventory. */
export interface LayerInventory {
  inventory(layers: AsyncIterable<Readable>, signal: AbortSignal): Promise<Inventory>;
}

export interface ScanPoolOptions {
  /** Scans running at once (the node's `scanConcurrency`). */
  size: number;
  limits?: Partial<ScanLimits>;
  /**
   * A worker's V8 heap (old generation), MB: the merged view's nodes, paths and link targets, the
   * extractors' parsed databases. A node takes about 180 bytes with ordinary paths, so the
   * default holds the view's default maxNodes (1,000,000) with room to spare; a million
   * symlinks with 4 KiB targets do not fit, and fail their scan rather than the server.
   */
  heapMb?: number;
}

const DEFAULT_HEAP_MB = 512;
/** Past the scan's own time limit, which the worker enforces, the pool ends a worker that did not. */
const DEADLINE_GRACE_MS = 30_000;
const WORKER_URL = new URL('./scan-worker.js', import.meta.url);

export class ScanPool implements LayerInventory {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private readonly limits: Partial<ScanLimits>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ScanPoolOptions) {
    if (!(opts.size >= 1)) throw new RangeError('a scan pool needs a size of at least 1');
    // Validated here, where a bad limit is a configuration error, not a failed scan.
    this.timeoutMs = resolveLimits(opts.limits).timeoutMs;
    this.limits = { ...opts.limits };
  }

  async inventory(layers: AsyncIterable<Readable>, signal: AbortSignal): Promise<Inventory> {
    await this.acquire(signal);
    try {
      return await this.runInWorker(layers, signal);
    } finally {
      this.release();
    }
  }

  private runInWorker(layers: AsyncIterable<Readable>, signal: AbortSignal): Promise<Inventory> {
    const input: WorkerInput = { limits: this.limits };
    const worker = new Worker(WORKER_URL, {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb ?? DEFAULT_HEAP_MB },
      // Not the server's flags (an inspector port, say): the worker only runs our code.
      execArgv: [],
    });
    const stop = new AbortController();
    const credits = new Credits(WINDOW_CHUNKS);
    return new Promise<Inventory>((resolve, reject) => {
      let settled = false;
      const finish = (error: ScanError | undefined, inventory?: Inventory): void => {
        if (settled) return;
        settled = true;
        stop.abort();
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        worker.terminate().catch(() => undefined);
        if (error) reject(error);
        else resolve(inventory!);
      };
      const onAbort = (): void => finish(toScanError(signal.reason, signal));
      const deadline = setTimeout(() => finish(new ScanAbortedError('scan time limit exceeded')), this.timeoutMs + DEADLINE_GRACE_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'credit') credits.give();
        else if (m.type === 'done') finish(undefined, m.inventory);
        else finish(deserializeScanError(m.error));
      });
      worker.on('error', (e: Error & { code?: string }) => finish(workerFailure(e, this.opts.heapMb ?? DEFAULT_HEAP_MB)));
      worker.on('exit', (code) => finish(new ScanError('FAILED', 'worker', `the scan worker stopped unexpectedly (exit code ${code})`)));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      feedLayers(worker, layers, credits, stop.signal).catch((e: unknown) => finish(toScanError(e)));
    });
  }

  private async acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw toScanError(signal.reason, signal);
    if (this.running < this.opts.size) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.queue.splice(this.queue.indexOf(go), 1);
        reject(toScanError(signal.reason, signal));
      };
      // release() hands its slot straight to the next waiter: `running` stays counted.
      const go = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.queue.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

function workerFailure(e: Error & { code?: string }, heapMb: number): ScanError {
  if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new ScanError('FAILED', 'memory', `the scan ran out of memory (a scan's heap is limited to ${heapMb} MB)`);
  }
  return new ScanError('FAILED', 'worker', `the scan worker failed: ${e.message}`);
}
