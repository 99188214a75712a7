/**
 * Writes the audit trail off the requests' path: records collect in a bounded buffer and go to
 * the metadata store in one transaction per batch (every `flushMs`, or as soon as a batch is
 * full), and to the JSON-lines file when one is configured. A request only appends to an array.
 *
 * When the store falls behind (down, or slower than the traffic) and the buffer is full, new
 * records are dropped and counted, never waited for: an audit trail must not stop a registry.
 * The count is logged with each flush that follows and kept in `dropped`. A failed batch is put
 * back (room permitting) and tried again at the next flush. Stopping flushes what is left.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { AuditEventRow, AuditStore } from '../metadata/audit-rows.js';
import { auditRow, type CloudTrailRecord } from './cloudtrail-record.js';

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
  #buffer: AuditEventRow[] = [];
  #lines: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #droppedReported = 0;
  readonly #o: Required<Omit<AuditWriterOptions, 'file'>> & Pick<AuditWriterOptions, 'file'>;

  constructor(opts: AuditWriterOptions) {
    this.#o = { flushMs: 1000, batchSize: 500, maxBuffered: 20_000, ...opts };
  }

  /** Records dropped because the buffer was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a record; never waits. */
  record(r: CloudTrailRecord, time: Date): void {
    if (this.#buffer.length >= this.#o.maxBuffered) {
      this.#dropped++;
      return;
    }
    const row = auditRow(r, time);
    this.#buffer.push(row);
    if (this.#o.file) this.#lines.push(row.record);
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
    if (this.#lines.length > 0) {
      const lines = this.#lines;
      this.#lines = [];
      this.#o.file?.write(lines.join('\n') + '\n');
    }
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#o.batchSize);
      try {
        await this.#o.store.append(batch);
      } catch (err) {
        // Put back what fits; the rest counts as dropped.
        const room = Math.max(0, this.#o.maxBuffered - this.#buffer.length);
        this.#buffer.unshift(...batch.slice(0, room));
        this.#dropped += batch.length - Math.min(room, batch.length);
        this.#o.log.warn({ err, records: batch.length }, 'could not write audit records; will retry');
        break;
      }
    }
    if (this.#dropped > this.#droppedReported) {
      this.#o.log.warn({ dropped: this.#dropped - this.#droppedReported, total: this.#dropped }, 'audit records dropped: the buffer was full');
      this.#droppedReported = this.#dropped;
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
  }
}
