/**
 * Renders errors on /v2 as the distribution spec's JSON. Client mistakes carry their catalogue
 * status; anything else is a server fault, logged with its stack and answered with a bare 500
 * that leaks nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../auth/errors.js';
import { Codes, isRegistryError, isStorageFull, RegistryError, type ErrorHints } from '../core/errors.js';
import { loggedPath } from './access-log.js';
import { noteError, REQUEST_ID_HEADER } from './request-facts.js';
import { DRAIN_LIMIT, discardBody, stopReadingBody, UNAUTHENTICATED_DRAIN_LIMIT } from './request.js';

export function ociErrorBody(e: RegistryError): string {
  const entry: Record<string, unknown> = { code: e.code.oci, message: e.message };
  if (e.detail !== undefined) entry.detail = e.detail;
  return JSON.stringify({ errors: [entry] });
}

/**
 * The /v2 headers that say what an error's hints say. An upload that refused a chunk (416) says
 * where it stands as a 202 would, so the client resumes from there (distribution-spec, chunked
 * upload): its Location is the path the request was sent to, the session's own.
 */
function hintHeaders(req: IncomingMessage, hints: ErrorHints): Record<string, string> {
  const open = hints.uploadOpen;
  return {
    ...(hints.retryAfterSeconds !== undefined && { 'Retry-After': String(hints.retryAfterSeconds) }),
    ...(hints.unsatisfiableRange && { 'Content-Range': `bytes */${hints.unsatisfiableRange.size}` }),
    // RFC 9110 §15.5.6: a 405 MUST name the methods the resource supports.
    ...(hints.allowedMethods && { Allow: hints.allowedMethods.join(', ') }),
    ...(open && {
      Location: (req.url ?? '').split('?')[0]!,
      Range: `0-${Math.max(0, open.size - 1)}`,
      'Docker-Upload-UUID': open.id,
    }),
  };
}

/** `challenge` is what a 401 asks for (token/challenge.ts). */
export async function sendOciError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  log: Logger,
  challenge: (req: IncomingMessage) => string,
): Promise<void> {
  let e: RegistryError;
  if (isRegistryError(err)) {
    e = err;
  } else if (isStorageFull(err)) {
    // Not a fault to investigate per request: the operator sees the disk fill in one warning each.
    log.warn({ method: req.method, path: loggedPath(req.url ?? '/'), requestId: res.getHeader(REQUEST_ID_HEADER), err: String(err) }, 'storage is full');
    e = new RegistryError(Codes.StorageFull);
  } else if (isAuthError(err)) {
    e = new RegistryError(Codes.Unauthorized, err.message);
  } else {
    log.error({ err, method: req.method, path: loggedPath(req.url ?? '/'), requestId: res.getHeader(REQUEST_ID_HEADER) }, 'request failed');
    e = new RegistryError(Codes.Internal);
  }
  noteError(req, e.code.oci, e.message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = ociErrorBody(e);
  const headers: Record<string, string | number> = {
    ...(e.code === Codes.Unauthorized && { 'WWW-Authenticate': challenge(req) }),
    ...hintHeaders(req, e.hints),
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Docker-Distribution-API-Version': 'registry/2.0',
  };
  const drained = await discardBody(req, e.code === Codes.Unauthorized ? UNAUTHENTICATED_DRAIN_LIMIT : DRAIN_LIMIT);
  if (!drained) Object.assign(headers, stopReadingBody(req));
  res.writeHead(e.code.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
