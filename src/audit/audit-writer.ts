/**
 * Writes the audit trail off the requests' path: calls collect in a bounded buffer and go, one
 * batch at a time (every `flushMs`, or as soon as a batch is full), to the audit thread, which
 * makes them into records and stores them in one transaction per batch through its own
 * connection; their JSON lines come back for the auditLog file when one is configured. A request
 * only appends to an array. A store with no second connection (SQLite in memory, in tests) gets
 * its batches built and appended here instead.
 *
 * When the store falls behind (down, or slower than the traffic) and the buffer is full, new
 * records are dropped and counted, never waited for: an audit trail must not stop a registry.
 * The count is logged with each flush that follows and kept in `dropped`. A failed batch is put
 * back (room permitting) and tried again at the next flush. Stopping flushes what is left.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { AuditStore } from '../metadata/audit-rows.js';
import { rowsOf, type AuditBatchResult } from './audit-batch.js';
import { AuditThread } from './audit-thread-client.js';
import type { AuditedCall } from './cloudtrail-record.js';

export interface AuditWriterOptions {
  store: AuditStore;
  clock: Clock;
  log: Logger;
  /** Flush at least this often (default 1000 ms). */
  flushMs?: number;
  /** Rows per transaction; a full batch is flushed at once (default 500). */
  batchSize?: number;
  /** Records held at most while the store is behind (default 20,000); more are dropped. */
  maxBuffered?: number;
  /** Each record as one JSON line (config auditLog); called at flush, never on a request. */
  file?: { write(line: string): void };
  /** Records older than this many days are pruned. */
  retentionDays: number;
}

const PRUNE_CHUNK = 5000;

export class AuditWriter {
  #buffer: AuditedCall[] = [];
  /** Batches the store refused: tried again first, without writing their lines to the file again. */
  #retry: AuditedCall[] = [];
  readonly #thread: AuditThread | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #droppedReported = 0;
  readonly #o: Required<Omit<AuditWriterOptions, 'file'>> & Pick<AuditWriterOptions, 'file'>;

  constructor(opts: AuditWriterOptions) {
    this.#o = { flushMs: 1000, batchSize: 500, maxBuffered: 20_000, ...opts };
    this.#thread = opts.store.appender && new AuditThread(opts.store.appender);
  }

  /** Records dropped because the buffer was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a call (as recordedCall made it); never waits. */
  record(call: AuditedCall): void {
    if (this.#buffer.length + this.#retry.length >= this.#o.maxBuffered) {
      this.#dropped++;
      return;
    }
    this.#buffer.push(call);
    if (this.#buffer.length >= this.#o.batchSize && !this.#flushing) this.flush().catch((err: unknown) => this.#o.log.error({ err }, 'audit flush failed'));
  }

  /** Writes everything queued so far; one flush at a time, a second call waits for it then runs. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#flushing = this.#drain();
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  async #drain(): Promise<void> {
    while (this.#retry.length > 0 || this.#buffer.length > 0) {
      const retried = this.#retry.length > 0;
      const batch = (retried ? this.#retry : this.#buffer).splice(0, this.#o.batchSize);
      const wantLines = !retried && this.#o.file !== undefined;
      const result = await this.#store(batch, wantLines);
      if (result.lines !== undefined) this.#o.file?.write(result.lines);
      if (result.error !== undefined) {
        // Put back what fits; the rest counts as dropped. A batch whose lines were wanted and not
        // written (the thread was lost) goes back as new, so that the file gets them next time.
        const room = Math.max(0, this.#o.maxBuffered - this.#buffer.length - this.#retry.length);
        (wantLines && result.lines === undefined ? this.#buffer : this.#retry).unshift(...batch.slice(0, room));
        this.#dropped += batch.length - Math.min(room, batch.length);
        this.#o.log.warn({ err: result.error, records: batch.length }, 'could not write audit records; will retry');
        break;
      }
    }
    if (this.#dropped > this.#droppedReported) {
      this.#o.log.warn({ dropped: this.#dropped - this.#droppedReported, total: this.#dropped }, 'audit records dropped: the buffer was full');
      this.#droppedReported = this.#dropped;
    }
  }

  async #store(batch: AuditedCall[], lines: boolean): Promise<Omit<AuditBatchResult, 'id'>> {
    if (this.#thread) {
      try {
        return await this.#thread.store(batch, lines);
      } catch (err) {
        return { error: (err as Error).message };
      }
    }
    const built = rowsOf(batch, lines);
    try {
      await this.#o.store.append(built.rows);
      return built;
    } catch (err) {
      return { ...built, error: (err as Error).message };
    }
  }

  /** Deletes records older than the retention, in chunks; returns how many. */
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
