/**
 * Writes the audit trail off the requests' path: calls collect in a bounded buffer and go, one
 * batch at a time, to the audit thread: a batch as soon as it is full, what is left over every
 * `flushMs` (so a crash loses at most about that much). The thread makes them into records and
 * stores them in one transaction per batch through its own connection; their JSON lines come back
 * for the auditLog file when one is configured. A request only writes its call's JSON into its
 * batch's buffer (packed-calls.ts). A store with no second connection (SQLite in memory, in
 * tests) gets its batches built and appended here.
 *
 * Under steady load the batches are full: each costs the thread a transaction and the event loop
 * a message both ways, and a drain that shipped whatever had arrived during the last round trip
 * (9-32 calls under load) paid those costs per few calls.
 *
 * When the store falls behind (down, or slower than the traffic) and the buffer is full, new
 * records are dropped and counted, never waited for: an audit trail must not stop a registry.
 * The count is logged with each flush that follows and kept in `dropped`. A failed batch is put
 * back (room permitting) and tried again at the next flush under the same batch id, which gives
 * its calls their event ids: a batch that was stored after all (the thread lost after its commit)
 * is not stored twice. Stopping flushes what is left.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { AuditStore } from '../metadata/audit-rows.js';
import { storedBatch, type AuditBatchResult } from './audit-batch.js';
import { AuditThread } from './audit-thread-client.js';
import type { AuditedCall } from './cloudtrail-record.js';
import { batchIdAt, MAX_BATCH_CALLS } from './event-id.js';
import { PackedCalls } from './packed-calls.js';

export interface AuditWriterOptions {
  store: AuditStore;
  clock: Clock;
  log: Logger;
  /** Flush at least this often (default 1000 ms). */
  flushMs?: number;
  /** Calls per batch (one transaction); a full batch is flushed at once (default 2,000, at most 65,536). */
  batchSize?: number;
  /** Records held at most while the store is behind (default 20,000); more are dropped. */
  maxBuffered?: number;
  /** Each record as one JSON line (config auditLog); called at flush, never on a request. */
  file?: { write(line: string): void };
  /** Records older than this many days are pruned. */
  retentionDays: number;
}

/**
 * A batch costs the audit thread about 0.8 ms besides its calls (a transaction, its keys, a
 * message each way), 1.6 us a call at 500 a batch: at 2,000 a batch under a flood (or what a
 * second brings, the timer's) it is a quarter of that. 20 texts of CALLS_PER_TEXT calls, each
 * with its own bit in a key's chunk mask (31 bits), so LookupEvents still reads only the texts
 * that hold a match.
 */
const DEFAULT_BATCH_CALLS = 2000;

/** Batches deleted per transaction (each about a second of calls). */
const PRUNE_CHUNK = 100;

/** A batch on its way to the store: its id is drawn once, so every try stores the same batch. */
interface Pending {
  batchId: string;
  calls: PackedCalls;
  /** Its records' lines are still to be written to the auditLog file. */
  lines: boolean;
}

export class AuditWriter {
  /** Batches in the making, oldest first: each full but perhaps the last. */
  readonly #buffer: PackedCalls[] = [];
  /** Calls held in #buffer. */
  #queued = 0;
  /** The last batch stored, whose memory the next batch takes (PackedCalls' spare). */
  #spare: PackedCalls | undefined;
  /** Batches the store refused: tried again first, under their ids. */
  #retry: Pending[] = [];
  /** Calls held in #retry. */
  #retried = 0;
  readonly #thread: AuditThread | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #droppedReported = 0;
  readonly #o: Required<Omit<AuditWriterOptions, 'file'>> & Pick<AuditWriterOptions, 'file'>;

  constructor(opts: AuditWriterOptions) {
    this.#o = { flushMs: 1000, batchSize: DEFAULT_BATCH_CALLS, maxBuffered: 20_000, ...opts };
    this.#o.batchSize = Math.min(this.#o.batchSize, MAX_BATCH_CALLS);
    this.#thread = opts.store.appender && new AuditThread(opts.store.appender);
  }

  /** Records dropped because the buffer was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a call (as recordedCall made it), packed at once (packed-calls.ts); never waits. */
  record(call: AuditedCall): void {
    if (this.#queued + this.#retried >= this.#o.maxBuffered) {
      this.#dropped++;
      return;
    }
    let open = this.#buffer.at(-1);
    if (open && open.count < this.#o.batchSize) open.add(call);
    else {
      // Queued only once it holds a call (add throws for a call JSON cannot write).
      open = new PackedCalls(this.#o.batchSize, this.#spare);
      this.#spare = undefined;
      open.add(call);
      this.#buffer.push(open);
    }
    this.#queued++;
    // A drain under way ships this batch too (it checks after each round trip).
    if (open.count >= this.#o.batchSize && !this.#flushing) this.#run(0).catch((err: unknown) => this.#o.log.error({ err }, 'audit flush failed'));
  }

  /** Writes everything queued so far; one flush at a time, a second call waits for it then runs. */
  flush(): Promise<void> {
    return this.#run(Number.POSITIVE_INFINITY);
  }

  /** `owed`: how many of the batches queued when the drain starts it must ship besides full ones. */
  async #run(owed: number): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#flushing = this.#drain(Math.min(owed, this.#buffer.length));
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  async #drain(owed: number): Promise<void> {
    // Calls that arrive meanwhile wait for a full batch or the next tick of the timer: shipping
    // them at once is what made batches small.
    while (this.#retry.length > 0 || owed > 0 || (this.#buffer[0]?.count ?? 0) >= this.#o.batchSize) {
      let batch = this.#retry.shift();
      if (batch) this.#retried -= batch.calls.count;
      else {
        const calls = this.#buffer.shift()!;
        this.#queued -= calls.count;
        owed = Math.max(0, owed - 1);
        batch = { batchId: batchIdAt(calls.firstTime!), calls, lines: this.#o.file !== undefined };
      }
      const result = await this.#store(batch);
      if (result.lines !== undefined) this.#o.file?.write(result.lines);
      if (result.error !== undefined) {
        // Put back what fits (a prefix keeps its calls' ids); the rest counts as dropped. Lines
        // wanted and not written (the thread was lost) are still wanted.
        const room = Math.max(0, this.#o.maxBuffered - this.#queued - this.#retried);
        const kept = room >= batch.calls.count ? batch.calls : batch.calls.prefix(room);
        if (kept.count > 0) this.#retry.unshift({ batchId: batch.batchId, calls: kept, lines: batch.lines && result.lines === undefined });
        this.#retried += kept.count;
        this.#dropped += batch.calls.count - kept.count;
        this.#o.log.warn({ err: result.error, records: batch.calls.count }, 'could not write audit records; will retry');
        break;
      }
      // Stored (the thread has its own copy of the bytes): nothing reads this batch again.
      this.#spare = batch.calls;
    }
    if (this.#dropped > this.#droppedReported) {
      this.#o.log.warn({ dropped: this.#dropped - this.#droppedReported, total: this.#dropped }, 'audit records dropped: the buffer was full');
      this.#droppedReported = this.#dropped;
    }
  }

  async #store(batch: Pending): Promise<Omit<AuditBatchResult, 'id'>> {
    if (this.#thread) {
      try {
        return await this.#thread.store(batch.batchId, batch.calls, batch.lines);
      } catch (err) {
        return { error: (err as Error).message };
      }
    }
    const built = storedBatch(batch.batchId, batch.calls.wire(), batch.lines);
    const lines = built.lines === undefined ? {} : { lines: built.lines };
    try {
      if (built.batch) await this.#o.store.append(built.batch);
      return lines;
    } catch (err) {
      return { ...lines, error: (err as Error).message };
    }
  }

  /** Deletes batches whose newest record is older than the retention, in chunks; returns how many batches. */
  async prune(): Promise<number> {
    const cut = new Date(this.#o.clock.now().getTime() - this.#o.retentionDays * 86_400_000);
    let total = 0;
    for (;;) {
      const n = await this.#o.store.prune(cut, PRUNE_CHUNK);
      total += n;
      if (n < PRUNE_CHUNK) return total;
    }
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.#o.log.error({ err }, 'audit flush failed'));
    }, this.#o.flushMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    await this.#thread?.close();
  }
}
