/**
 * The access log: one line per request, written when the response closes, with what an operator
 * needs to answer "who did what, and what happened" — and nothing a reader could replay: no
 * header values, no query secrets. Each request gets an id, echoed in `x-amzn-RequestId` (the
 * header AWS services answer with, and the id IAM/STS bodies repeat), so a client's failure can be
 * found in the log.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-amzn-RequestId';

/** What the handlers learn about a request on the way (who asked, what was refused). */
interface RequestFacts {
  principal?: string;
  denied?: { action: string; resource: string };
}

const facts = new WeakMap<IncomingMessage, RequestFacts>();

/** Called where a request is authenticated; a request never authenticated is logged as anonymous. */
export function notePrincipal(req: IncomingMessage, arn: string): void {
  const f = facts.get(req);
  if (f) f.principal = arn;
}

/** Called where an authorization check refused the request, so its line names what was refused. */
export function noteDenied(req: IncomingMessage, action: string, resource: string): void {
  const f = facts.get(req);
  if (f) f.denied = { action, resource };
}

/** The id of the request a response answers (a fresh one for a response outside the access log). */
export function requestIdOf(res: ServerResponse): string {
  const id = res.getHeader(REQUEST_ID_HEADER);
  return typeof id === 'string' ? id : randomUUID();
}

const SECRET_PARAM = /signature|credential|token|secret|password|passwd|auth|session|key/i;
const MAX_LOGGED_PATH = 2048;

/**
 * The request's path and query as logged: every query parameter that may carry a credential
 * (SigV4's X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, anything token- or key-ish)
 * has its value replaced, so a presigned URL in the log cannot be replayed.
 */
export function loggedPath(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  if (q < 0) return rawUrl.length > MAX_LOGGED_PATH ? rawUrl.slice(0, MAX_LOGGED_PATH) + '…' : rawUrl;
  const params = rawUrl
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a malformed name is judged as written
      }
      return eq >= 0 && SECRET_PARAM.test(decoded) ? `${name}=REDACTED` : pair;
    });
  const out = `${rawUrl.slice(0, q)}?${params.join('&')}`;
  return out.length > MAX_LOGGED_PATH ? out.slice(0, MAX_LOGGED_PATH) + '…' : out;
}

export class AccessLog {
  /** `file`: a second destination for the same lines (config `accessLog`), whatever the log level. */
  constructor(
    private readonly log: Logger,
    private readonly file?: Logger,
  ) {}

  /**
   * Starts a request's record: gives it an id (set on the response at once, so every answer
   * carries it), counts body bytes both ways, and writes the line when the response closes.
   */
  begin(req: IncomingMessage, res: ServerResponse): string {
    const id = randomUUID();
    res.setHeader(REQUEST_ID_HEADER, id);
    if (!this.log.isLevelEnabled('info') && this.file === undefined) return id;
    const started = process.hrtime.bigint();
    const f: RequestFacts = {};
    facts.set(req, f);
    const counted = countBytes(req, res);
    // Read now: once an h2 stream has closed, its request no longer reaches the session's socket.
    const sourceIp = req.socket.remoteAddress;
    res.once('close', () => {
      const line: Record<string, unknown> = {
        requestId: id,
        method: req.method,
        path: loggedPath(req.url ?? '/'),
        // What ALPN settled on: `HTTP/2` or `HTTP/1.1`.
        protocol: req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
        status: res.statusCode,
        bytesSent: counted.sent,
        bytesReceived: counted.received,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        principal: f.principal ?? 'anonymous',
        sourceIp,
      };
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string') line.operation = target.slice(target.lastIndexOf('.') + 1).slice(0, 100);
      if (f.denied) {
        line.deniedAction = f.denied.action;
        line.deniedResource = f.denied.resource;
      }
      if (!res.writableFinished) line.aborted = true;
      this.log.info(line, 'request');
      this.file?.info(line, 'request');
    });
    return id;
  }
}

/** Counts body bytes read from the request and written to the response, wrapping this request's own methods only. */
function countBytes(req: IncomingMessage, res: ServerResponse): { sent: number; received: number } {
  const counted = { sent: 0, received: 0 };
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null && chunk !== undefined) counted.received += byteLength(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
  const write = res.write;
  const end = res.end;
  // h2's compatibility response writes end's chunk through write: counted once, by end.
  let ending = false;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (!ending) counted.sent += byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') counted.sent += byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    ending = true;
    try {
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } finally {
      ending = false;
    }
  } as typeof res.end;
  return counted;
}

function byteLength(chunk: unknown, encoding: BufferEncoding | undefined): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, encoding);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
