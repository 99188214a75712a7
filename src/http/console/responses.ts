/**
 * How every /console/ answer is sent: the security headers (a strict Content-Security-Policy
 * with no inline script or style, no framing, no sniffing, no referrer), the session cookie,
 * and the console API's JSON and errors (`{"__type","message"}`, as ECR's).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WireCode } from '../../core/errors.js';
import { noteError } from '../request-facts.js';
import { externalScheme } from '../request.js';

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

export const COOKIE_NAME = 'berth_console';

/** The session id the request's cookie carries, if any. */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE_NAME) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Only the console's paths see the cookie; script never does; no other site's request carries
 * it. A browser session's cookie (no Max-Age): the server ends the session on its own terms.
 * Secure whenever the browser reached Berth over https, directly or through a TLS proxy that
 * says so (externalScheme): else the browser would send the session in clear to plain http.
 */
export function setSessionCookie(req: IncomingMessage, res: ServerResponse, id: string): void {
  res.setHeader('Set-Cookie', `${COOKIE_NAME}=${id}; Path=/console; HttpOnly; SameSite=Strict${secure(req)}`);
}

export function clearSessionCookie(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Set-Cookie', `${COOKIE_NAME}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0${secure(req)}`);
}

const secure = (req: IncomingMessage): string => (externalScheme(req) === 'https' ? '; Secure' : '');

export function sendConsoleJson(res: ServerResponse, status: number, value: unknown): void {
  const body = status === 204 ? '' : JSON.stringify(value);
  res.writeHead(status, {
    'Cache-Control': 'no-store',
    ...(status !== 204 && { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }),
  });
  res.end(body);
}

/** A refusal of the console's own API, in ECR's error shape. */
export class ConsoleError extends Error {
  constructor(
    readonly wire: WireCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

export function sendConsoleError(req: IncomingMessage, res: ServerResponse, e: ConsoleError): void {
  noteError(req, e.wire.code, e.message);
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  if (e.wire.status === 401) clearSessionCookie(req, res);
  sendConsoleJson(res, e.wire.status, { __type: e.wire.code, message: e.message });
}
