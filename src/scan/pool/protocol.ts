/**
 * What the scan pool (on the event loop's thread) and a scan worker say to each other. The pool
 * streams each layer's bytes in as chunks, at most WINDOW_CHUNKS of them unacknowledged, so a
 * worker slower than the blob store holds the blob read back (backpressure) instead of queueing
 * the layer in memory; the worker answers with credits, then one inventory or one scan error.
 */
import type { Inventory } from '../inventory/types.js';
import { ScanError, type ScanFailureStatus } from '../layers/errors.js';
import type { ScanLimits } from '../layers/limits.js';

/** Largest chunk posted to a worker; bigger reads from the blob store are split. */
export const CHUNK_BYTES = 64 * 1024;
/** Chunks posted and not yet taken by the worker's tar reader: 512 KiB per scan in flight. */
export const WINDOW_CHUNKS = 8;

/** The worker's `workerData`. */
export interface WorkerInput {
  limits: Partial<ScanLimits>;
}

export type ToWorker =
  /** The next layer starts; its chunks follow in order. */
  | { type: 'layer' }
  | { type: 'chunk'; data: Uint8Array }
  | { type: 'layer-end' }
  /** No more layers. */
  | { type: 'end' };

export type FromWorker =
  /** One chunk was taken: the pool may post one more. */
  { type: 'credit' } | { type: 'done'; inventory: Inventory } | { type: 'failed'; error: SerializedScanError };

/** A ScanError across the thread boundary (structured clone drops its class). */
export interface SerializedScanError {
  status: ScanFailureStatus;
  reason: string;
  name: string;
  message: string;
}

export function serializeScanError(e: ScanError): SerializedScanError {
  return { status: e.status, reason: e.reason, name: e.name, message: e.message };
}

export function deserializeScanError(s: SerializedScanError): ScanError {
  const e = new ScanError(s.status, s.reason, s.message);
  e.name = s.name;
  return e;
}
