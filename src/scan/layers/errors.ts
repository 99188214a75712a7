/**
 * Typed scan errors. A scan ends in one of ECR's scan statuses; `status` says which one an error
 * maps to, so the scan worker never has to guess from a message. FAILED covers corrupt input,
 * exceeded limits and aborts; UNSUPPORTED_IMAGE means the layers were read fine but nothing we
 * know how to inventory was found.
 */

export type ScanFailureStatus = 'FAILED' | 'UNSUPPORTED_IMAGE';

export class ScanError extends Error {
  readonly status: ScanFailureStatus;
  /** A short, static, machine-friendly reason (logs and metrics group by it). */
  readonly reason: string;

  constructor(status: ScanFailureStatus, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScanError';
    this.status = status;
    this.reason = reason;
  }
}

/** A configured bound was hit: hostile or simply too large input. */
export class ScanLimitError extends ScanError {
  readonly limit: string;
  readonly value: number;

  constructor(limit: string, value: number, message?: string) {
    super('FAILED', 'limit', message ?? `scan limit ${limit} (${value}) exceeded`);
    this.name = 'ScanLimitError';
    this.limit = limit;
    this.value = value;
  }
}

/** The bytes are not a well-formed layer: bad compression, bad tar, truncated stream. */
export class CorruptLayerError extends ScanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FAILED', 'corrupt', message, options);
    this.name = 'CorruptLayerError';
  }
}

/** The caller's signal fired or the scan's own time limit ran out. */
export class ScanAbortedError extends ScanError {
  constructor(message = 'scan aborted', options?: { cause?: unknown }) {
    super('FAILED', 'aborted', message, options);
    this.name = 'ScanAbortedError';
  }
}

/** The layer source itself failed (e.g. the blob store read broke off). */
export class LayerReadError extends ScanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FAILED', 'read', message, options);
    this.name = 'LayerReadError';
  }
}

/** Layers were read fine, but no OS and no package of any known ecosystem was found. */
export class UnsupportedImageError extends ScanError {
  constructor(message = 'no operating system or package inventory found in the image') {
    super('UNSUPPORTED_IMAGE', 'unsupported', message);
    this.name = 'UnsupportedImageError';
  }
}

export function isScanError(e: unknown): e is ScanError {
  return e instanceof ScanError;
}

/**
 * Maps anything thrown while reading layers to a ScanError, so callers see one family of
 * errors whatever broke: a failing source, an AbortError from a destroyed stream, a bug.
 */
export function toScanError(e: unknown, signal?: AbortSignal): ScanError {
  if (e instanceof ScanError) return e;
  if (signal?.aborted) return new ScanAbortedError(abortMessage(signal), { cause: e });
  const err = e as { name?: unknown; message?: unknown } | undefined;
  if (err?.name === 'AbortError') return new ScanAbortedError('scan aborted', { cause: e });
  return new LayerReadError(`reading the layer failed: ${String(err?.message ?? e)}`, { cause: e });
}

function abortMessage(signal: AbortSignal): string {
  const r = signal.reason as { name?: string } | undefined;
  return r?.name === 'TimeoutError' ? 'scan time limit exceeded' : 'scan aborted';
}
