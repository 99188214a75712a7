/**
 * The byte threads (design decision 6, "the event loop only routes"): one bounded set of worker
 * threads for the work whose cost grows with bytes — hashing uploads (registry/hash-pool.ts) and
 * opening sealed blobs for downloads (encrypted/open-pool.ts). Every thread runs byte-worker.js,
 * which hands each message to the task its `kind` names; the pools above keep their own state
 * and speak their own protocol through a thread.
 *
 * This module only keeps the threads alive and cheap to talk to: a thread starts on first use and
 * again after it died, messages go out as one array per turn of the event loop (a message per
 * batch woke the worker so often that, under load, the wake-ups cost more than the work moved),
 * replies are routed by kind, and a thread keeps the process alive only while work is
 * outstanding on it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface ThreadMessage {
  kind: string;
}

export interface ByteThreadsOptions {
  /** Worker threads; default: the machine's parallelism, at most 4. */
  threads?: number;
}

/** Told when a thread stopped: `error` says why (its work is lost), `closing` when the pool closed it. */
export type ExitListener = (error: Error, closing: boolean) => void;

export class ByteThreads {
  readonly threads: ByteThread[];
  private closed = false;

  constructor(opts: ByteThreadsOptions = {}) {
    const n = opts.threads ?? Math.min(4, availableParallelism());
    if (!Number.isInteger(n) || n < 1) throw new Error(`byte threads must be a positive integer, got ${n}`);
    this.threads = Array.from({ length: n }, () => new ByteThread(this));
  }

  /** The thread for which `load` is least (ties: the first). */
  least(load: (t: ByteThread) => number): ByteThread {
    let best = this.threads[0]!;
    let bestLoad = load(best);
    for (const t of this.threads) {
      const l = load(t);
      if (l < bestLoad) [best, bestLoad] = [t, l];
    }
    return best;
  }

  /** The worker threads running now (for diagnostics and tests). */
  liveWorkers(): Worker[] {
    return this.threads.flatMap((t) => (t.worker ? [t.worker] : []));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.stop()));
  }
}

export class ByteThread {
  worker: Worker | undefined;
  private readonly listeners = new Map<string, (m: ThreadMessage) => void>();
  private readonly starts: Array<() => ThreadMessage[]> = [];
  private readonly exits: ExitListener[] = [];
  private outstanding = 0;
  private queue: ThreadMessage[] = [];
  private flushSoon: NodeJS.Immediate | undefined;

  constructor(private readonly pool: ByteThreads) {}

  /** Routes replies of `kind` to `listener` (one per kind and thread). */
  on(kind: string, listener: (m: ThreadMessage) => void): void {
    this.listeners.set(kind, listener);
  }

  /** Messages to send first to every worker this thread starts (a fresh worker knows nothing). */
  onStart(messages: () => ThreadMessage[]): void {
    this.starts.push(messages);
  }

  onExit(listener: ExitListener): void {
    this.exits.push(listener);
  }

  /** Queues a message for the worker, started if it is not running; sent at the end of this turn. */
  post(m: ThreadMessage): void {
    if (this.pool.isClosed) throw new Error('the byte threads are closed');
    this.ensure();
    this.queue.push(m);
    this.flushSoon ??= setImmediate(() => this.send());
  }

  /** Whether work is awaited from the worker (a download it opens, a hash, an append): see hold(). */
  get busy(): boolean {
    return this.outstanding > 0;
  }

  /** Counts work awaited from the worker: while any is, the worker keeps the process alive. */
  hold(delta: number): void {
    const before = this.outstanding;
    this.outstanding += delta;
    if (before === 0 && this.outstanding > 0) this.worker?.ref();
    else if (before > 0 && this.outstanding === 0) this.worker?.unref();
  }

  private send(): void {
    this.flushSoon = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) this.worker?.postMessage(batch);
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./byte-worker.js', import.meta.url));
    // Work counted before the start (hold() then post()) keeps the new worker alive.
    if (this.outstanding === 0) w.unref();
    this.queue = this.starts.flatMap((s) => s());
    w.on('message', (batch: ThreadMessage[]) => {
      for (const m of batch) this.listeners.get(m.kind)?.(m);
    });
    let failure: Error | undefined;
    w.on('error', (e) => {
      failure = e;
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.lost(failure ?? new Error(`exited with code ${code}`), this.pool.isClosed);
    });
    this.worker = w;
    return w;
  }

  private lost(error: Error, closing: boolean): void {
    // What was awaited from the dead worker will never come; its owners are told below.
    this.outstanding = 0;
    this.queue = [];
    if (this.flushSoon) clearImmediate(this.flushSoon);
    this.flushSoon = undefined;
    for (const l of this.exits) l(error, closing);
  }

  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.lost(new Error('the byte threads were closed'), true);
    await w.terminate();
  }
}
