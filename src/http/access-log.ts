/**
 * The access log: one line per request, written when the response closes, with what an operator
 * needs to answer "who did what, and what happened" — and nothing a reader could replay: no
 * header values, no query secrets. Each request gets an id, echoed in `x-amzn-RequestId` (the
 * header AWS services answer with, and the id IAM/STS bodies repeat), so a client's failure can be
 * found in the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { answeredStatus, type RequestFacts, type RequestObserver } from './request-facts.js';

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

export class AccessLog implements RequestObserver {
  /** `file`: a second destination for the same lines (config `accessLog`), whatever the log level. */
  constructor(
    private readonly log: Logger,
    private readonly file?: Logger,
  ) {}

  /** Whether a line would be written anywhere. */
  get enabled(): boolean {
    return this.log.isLevelEnabled('info') || this.file !== undefined;
  }

  requestClosed(req: IncomingMessage, res: ServerResponse, f: Readonly<RequestFacts>): void {
    if (!this.enabled) return;
    const line: Record<string, unknown> = {
      requestId: f.requestId,
      method: req.method,
      path: loggedPath(req.url ?? '/'),
      // What ALPN settled on: `HTTP/2` or `HTTP/1.1`.
      protocol: req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
      status: answeredStatus(res),
      bytesSent: f.bytes.sent,
      bytesReceived: f.bytes.received,
      ms: Math.round((performance.now() - f.startedMs) * 100) / 100,
      principal: f.principal?.arn ?? 'anonymous',
      sourceIp: f.sourceIp,
    };
    if (f.operation) line.operation = f.operation.name.slice(0, 100);
    if (f.denied) {
      line.deniedAction = f.denied.action;
      line.deniedResource = f.denied.resource;
    }
    if (!res.writableFinished) line.aborted = true;
    // Berth's own cut (a client too slow), where `aborted` alone would read as the client's hang-up.
    if (f.cut !== undefined) line.cut = f.cut;
    this.log.info(line, 'request');
    this.file?.info(line, 'request');
  }
}
