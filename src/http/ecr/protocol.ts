/**
 * The AWS JSON 1.1 wire format of ECR's API: requests are `POST /` with `X-Amz-Target`
 * `AmazonEC2ContainerRegistry_V20150921.<Op>` and a JSON body; answers are JSON with epoch-second
 * timestamps; errors are `{"__type", "message"}` with 400 for every client error and 500 only
 * for a server fault, because SDKs retry 5xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { noteError, REQUEST_ID_HEADER, requestIdOf } from '../request-facts.js';
import { isAuthError } from '../../auth/errors.js';
import { Codes, ecrWire, isRegistryError, isStorageFull, RegistryError, type ErrorCode, type WireCode } from '../../core/errors.js';
import { DRAIN_LIMIT, discardBody, stopReadingBody, UNAUTHENTICATED_DRAIN_LIMIT } from '../request.js';
import { wireJson } from './wire-json.js';
import { releaseWhenSent, type Release } from '../download-hold.js';

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * An error in ECR's terms: a catalogue entry (src/core/errors.ts) with its message, plus any
 * modelled extra members. KMS's API renders its errors the same way.
 */
export class EcrError extends Error {
  /** The `__type`. */
  readonly type: string;
  readonly status: number;

  constructor(
    code: ErrorCode | WireCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EcrError';
    const w = 'ecr' in code ? ecrWire(code) : code;
    this.type = w.code;
    this.status = w.status;
  }
}

const HELD = Symbol('held');

/** `answer`, whose memory is held against a download budget until `release` (sendEcrJson calls it once sent). */
export function heldAnswer<T extends object>(answer: T, release: Release): T {
  return Object.assign(answer, { [HELD]: release });
}

export function sendEcrJson(res: ServerResponse, value: unknown): void {
  const release = typeof value === 'object' && value !== null ? (value as { [HELD]?: Release })[HELD] : undefined;
  try {
    // Epoch-second timestamps; an absent member is left out, never sent as null (ECR never sends one).
    const body = wireJson(value);
    res.writeHead(200, {
      'Content-Type': JSON_CONTENT_TYPE,
      'Content-Length': body.length,
      [REQUEST_ID_HEADER]: requestIdOf(res),
    });
    res.end(body);
  } catch (e) {
    release?.();
    throw e;
  }
  if (release) releaseWhenSent(res, release);
}

/** Renders any error thrown by an action: ECR errors as they are, core errors by their catalogue entry. */
export async function sendEcrError(req: IncomingMessage, res: ServerResponse, err: unknown, log: Logger): Promise<void> {
  let type: string;
  let message: string;
  let status = 400;
  let extra: Record<string, unknown> = {};
  if (err instanceof EcrError) {
    ({ type, message, status, extra } = err);
  } else if (isAuthError(err)) {
    type = err.code;
    message = err.message;
    status = err.status;
  } else if (isRegistryError(err) || isStorageFull(err)) {
    const e = isRegistryError(err) ? err : new RegistryError(Codes.StorageFull);
    ({ code: type, status } = ecrWire(e.code));
    message = e.message;
  } else {
    log.error({ err, target: req.headers['x-amz-target'] }, 'ecr request failed');
    ({ code: type, status } = ecrWire(Codes.Internal));
    message = 'An internal error occurred';
  }
  noteError(req, type, message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ __type: type, message, ...extra });
  const headers: Record<string, string | number> = {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestIdOf(res),
    'x-amzn-ErrorType': type,
  };
  const drained = await discardBody(req, isAuthError(err) ? UNAUTHENTICATED_DRAIN_LIMIT : DRAIN_LIMIT);
  if (!drained) Object.assign(headers, stopReadingBody(req));
  res.writeHead(status, headers);
  res.end(body);
}
