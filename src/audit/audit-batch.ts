/**
 * A batch of queued calls: packed on the event loop into a few texts that cross to the audit
 * thread, and there made into the trail's stored batch (the texts as they came, deflated, with
 * the keys LookupEvents finds them by) and, when an auditLog file is kept, their records' JSON
 * lines. The writer does the second half itself when the store has no second connection to give
 * (SQLite in memory). Also the messages to and from that thread.
 */
import { KeyCollector, packBlob, type AuditBatchRow } from '../metadata/audit-rows.js';
import { cloudTrailRecord, lookupColumns, type AuditedCall } from './cloudtrail-record.js';
import { eventIdOf } from './event-id.js';

export interface AuditBatch {
  id: number;
  /** The trail's batch id (event-id.ts), drawn once per batch and kept by its retries. */
  batchId: string;
  /** The calls, packed (packed-calls.ts): their texts' UTF-8 bytes, each text's end in them. */
  bytes: Uint8Array;
  ends: number[];
  /** Return the records as JSON lines too (the auditLog file), which a retried batch already wrote. */
  lines: boolean;
}

/** Lines are returned even when the store failed: the file does not depend on the store. */
export type AuditBatchResult = { id: number; lines?: string; error?: string };

/**
 * A batch crosses to the audit thread as a few texts, each the JSON of a flat array of FIELDS
 * values per call (packed-calls.ts writes them as the calls are recorded): V8's structured clone
 * writes every object's property names anew, so cloning nested call objects cost more than
 * building their records had. At most CALLS_PER_TEXT calls a text: JSON.stringify's cost per
 * byte rises about five times once its text passes 128 KiB (V8's largest regular heap object; a
 * batch of 500 manifest GETs is ~210 KiB), measured at 4.2 µs a call for one text of 500 against
 * 0.6-0.8 for texts of 25 to 300. The trail stores these texts as they are, so a key's chunk
 * mask names the texts to read.
 */
const FIELDS = 20;
export const CALLS_PER_TEXT = 100;
/** As cloudTrailRecord cuts them: longer text is never stored. */
const MAX_TEXT = 1024;

/** A call's FIELDS values, in the order unpackText reads them. */
export function callValues(c: AuditedCall): unknown[] {
  const p = c.principal;
  const role = p.session?.role;
  const message = c.error?.message;
  const ua = c.userAgent;
  return [
    c.api,
    c.operation,
    c.method,
    p.arn,
    p.accountId,
    p.kind,
    p.userName,
    p.accessKeyId,
    p.principalArn,
    role?.name,
    role?.roleId,
    role?.sessionName,
    c.params,
    c.error?.code,
    message !== undefined && message.length > MAX_TEXT ? message.slice(0, MAX_TEXT) : message,
    c.requestId,
    c.time.getTime(),
    c.region,
    c.sourceIp,
    ua !== undefined && ua.length > MAX_TEXT ? ua.slice(0, MAX_TEXT) : ua,
  ];
}

export function unpackCalls(texts: readonly string[]): AuditedCall[] {
  const calls: AuditedCall[] = [];
  for (const text of texts) unpackText(text, calls);
  return calls;
}

export function unpackText(text: string, calls: AuditedCall[] = []): AuditedCall[] {
  const packed = JSON.parse(text) as unknown[];
  const s = (i: number) => packed[i] as string;
  // JSON writes an absent field (undefined) in an array as null.
  const opt = (i: number) => (packed[i] ?? undefined) as string | undefined;
  for (let i = 0; i + FIELDS <= packed.length; i += FIELDS) {
    const principal: AuditedCall['principal'] = { arn: s(i + 3), accountId: s(i + 4), kind: s(i + 5) as AuditedCall['principal']['kind'] };
    if (opt(i + 6) !== undefined) principal.userName = s(i + 6);
    if (opt(i + 7) !== undefined) principal.accessKeyId = s(i + 7);
    if (opt(i + 8) !== undefined) principal.principalArn = s(i + 8);
    if (opt(i + 9) !== undefined) principal.session = { role: { name: s(i + 9), roleId: s(i + 10), sessionName: s(i + 11) } };
    const call: AuditedCall = {
      api: s(i) as AuditedCall['api'],
      operation: s(i + 1),
      method: s(i + 2),
      principal,
      requestId: s(i + 15),
      time: new Date(packed[i + 16] as number),
      region: s(i + 17),
    };
    if (packed[i + 12] != null) call.params = packed[i + 12] as Record<string, unknown>;
    if (opt(i + 13) !== undefined) call.error = { code: s(i + 13), message: s(i + 14) };
    if (opt(i + 18) !== undefined) call.sourceIp = s(i + 18);
    if (opt(i + 19) !== undefined) call.userAgent = s(i + 19);
    calls.push(call);
  }
  return calls;
}

/**
 * The stored batch of packed texts (undefined when none of its calls is recorded) and, when
 * wanted, the records' JSON lines, each under the event id its place in the batch gives it.
 */
export function storedBatch(batchId: string, texts: readonly string[], wantLines: boolean): { batch?: AuditBatchRow; lines?: string } {
  const keys = new KeyCollector();
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  let lines = '';
  let index = 0;
  for (let t = 0; t < texts.length; t++) {
    for (const call of unpackText(texts[t]!)) {
      const i = index++;
      const cols = lookupColumns(call);
      if (!cols) continue;
      const time = call.time.getTime();
      if (time < firstTime) firstTime = time;
      if (time > lastTime) lastTime = time;
      keys.addColumns(cols, time, t);
      if (wantLines) lines += `${JSON.stringify(cloudTrailRecord({ ...call, eventId: eventIdOf(batchId, i) }))}\n`;
    }
  }
  if (lastTime === Number.NEGATIVE_INFINITY) return {};
  return { batch: { batchId, firstTime, lastTime, form: 2, calls: packBlob(texts), keys: keys.keys() }, ...(wantLines && { lines }) };
}
