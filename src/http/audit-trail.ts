/**
 * The audit trail's observer: when a request's response closes, queues what the doors noted about
 * it (request-facts.ts) with the writer, which has the audit thread make it into a CloudTrail
 * record. Nothing here waits, and little runs: a few field copies, and the writer writes the
 * call's JSON into its batch's buffer (nothing of it stays on the heap past the request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { recordedCall } from '../audit/cloudtrail-record.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { accountOf, registryKeyText } from '../core/registry-key.js';
import { closeTime, type RequestFacts, type RequestObserver } from './request-facts.js';

/** Berth's own code for a call whose client closed the connection before the answer was complete. */
const ABORTED = { code: 'RequestAborted', message: 'The client closed the connection before the response was complete.' };

export class AuditTrail implements RequestObserver {
  /** CloudTrail records no sizes. */
  readonly countsBytes = false;

  constructor(
    private readonly writer: Pick<AuditWriter, 'record'>,
    private readonly clock: Clock,
    private readonly region: string,
    private readonly log: Logger,
  ) {}

  requestClosed(req: IncomingMessage, res: ServerResponse, f: Readonly<RequestFacts>): void {
    // Called from the response's 'close' event: a throw here would end the process.
    try {
      this.#record(req, res, f);
    } catch (err) {
      this.log.error({ err, requestId: f.requestId }, 'could not build an audit record');
    }
  }

  #record(req: IncomingMessage, res: ServerResponse, f: Readonly<RequestFacts>): void {
    if (!f.operation || !f.principal) return;
    const time = closeTime(f, this.clock);
    // A response cut short with no error noted (the client went away mid-upload) is no success.
    const error = f.error ?? (res.writableFinished ? undefined : ABORTED);
    const ua = req.headers['user-agent'];
    // One literal of a fixed shape (an absent field is undefined, which the packing writes as
    // JSON's null, as it writes a missing one): spreads of the optional parts cost several times
    // as much, once per request.
    const call = recordedCall({
      api: f.operation.api,
      operation: f.operation.name,
      method: req.method ?? 'GET',
      principal: f.principal,
      params: f.operation.api === 'oci' ? ociParams(f) : f.params,
      error,
      requestId: f.requestId,
      time,
      region: this.region,
      sourceIp: f.sourceIp,
      userAgent: typeof ua === 'string' ? ua : undefined,
    });
    if (call) this.writer.record(call);
  }
}

/**
 * A /v2 call's route parameters, with the registry it addressed when that is another account's:
 * a cross-account pull or catalog read (by account host or `account--<id>`) is recorded, as ECR
 * records one, with the owner's registryId and repository ARN, not as the caller's own registry's.
 */
function ociParams(f: Readonly<RequestFacts>): RequestFacts['params'] {
  const caller = f.principal?.accountId;
  if (f.registryKey === undefined || caller === undefined) return f.params;
  // The caller's own registry (nearly every call) is told apart without a string made per request.
  const key = registryKeyText(f.registryKey);
  if (key.startsWith(caller) && key.charCodeAt(caller.length) === COLON) return f.params;
  return { ...f.params, registryId: accountOf(f.registryKey) };
}

const COLON = 0x3a;
