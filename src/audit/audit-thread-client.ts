/** The event loop's side of the audit thread (audit-thread.ts): started on first use and again after it died. */
import { Worker } from 'node:worker_threads';
import type { AuditAppenderSpec } from '../metadata/audit-rows.js';
import type { AuditBatch, AuditBatchResult } from './audit-batch.js';
import type { PackedCalls } from './packed-calls.js';

export class AuditThread {
  #worker: Worker | undefined;
  #next = 0;
  readonly #waiting = new Map<number, { resolve(r: AuditBatchResult): void; reject(e: Error): void }>();

  constructor(private readonly spec: AuditAppenderSpec) {}

  /** Builds and stores a batch; rejects only when the thread is lost (the answer says whether the store failed). */
  store(batchId: string, calls: PackedCalls, lines: boolean): Promise<AuditBatchResult> {
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<AuditBatchResult>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // The bytes are a copy (the writer keeps its own for a retry), moved rather than cloned.
      const wire = calls.wire();
      worker.postMessage({ id, batchId, ...wire, lines } satisfies AuditBatch, [
        wire.bytes.buffer as ArrayBuffer,
        wire.calls.buffer as ArrayBuffer,
        wire.alike.buffer as ArrayBuffer,
      ]);
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./audit-thread.js', import.meta.url), { workerData: { spec: this.spec } });
    w.unref();
    w.on('message', (m: AuditBatchResult) => {
      const waiter = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      waiter?.resolve(m);
    });
    const lost = (e: Error) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      for (const waiter of this.#waiting.values()) waiter.reject(e);
      this.#waiting.clear();
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`the audit thread exited (${code})`)));
    this.#worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
    for (const waiter of this.#waiting.values()) waiter.reject(new Error('the audit thread was stopped'));
    this.#waiting.clear();
  }
}
