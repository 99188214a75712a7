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
  for (let i = 0; i + FIELDS <= packed.length; i += FIELDS) calls.push(callAt(packed, i));
  return calls;
}

/** The call whose values start at `i` of a parsed text. */
function callAt(packed: readonly unknown[], i: number): AuditedCall {
  const s = (k: number) => packed[i + k] as string;
  // JSON writes an absent field (undefined) in an array as null.
  const opt = (k: number) => (packed[i + k] ?? undefined) as string | undefined;
  const principal: AuditedCall['principal'] = { arn: s(3), accountId: s(4), kind: s(5) as AuditedCall['principal']['kind'] };
  if (opt(6) !== undefined) principal.userName = s(6);
  if (opt(7) !== undefined) principal.accessKeyId = s(7);
  if (opt(8) !== undefined) principal.principalArn = s(8);
  if (opt(9) !== undefined) principal.session = { role: { name: s(9), roleId: s(10), sessionName: s(11) } };
  const call: AuditedCall = {
    api: s(0) as AuditedCall['api'],
    operation: s(1),
    method: s(2),
    principal,
    requestId: s(15),
    time: new Date(packed[i + 16] as number),
    region: s(17),
  };
  if (packed[i + 12] != null) call.params = packed[i + 12] as Record<string, unknown>;
  if (opt(13) !== undefined) call.error = { code: s(13), message: s(14) };
  if (opt(18) !== undefined) call.sourceIp = s(18);
  if (opt(19) !== undefined) call.userAgent = s(19);
  return call;
}

/** The values lookupColumns reads: the api, operation and method, the principal (3-11), the parameters (12) and the region (17). */
const COLUMN_INPUTS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 17];

/**
 * Whether the calls at `i` of `a` and `j` of `b` have the same lookup columns because they have
 * the same inputs to lookupColumns (a pure function). Parameters count as the same only when both
 * are absent or flat objects of the same strings in the same order (a /v2 route's); anything else
 * is computed anew. A flood repeats one caller, operation and repository call after call.
 */
function sameColumnInputs(a: readonly unknown[], i: number, b: readonly unknown[], j: number): boolean {
  for (const k of COLUMN_INPUTS) if (a[i + k] !== b[j + k]) return false;
  const p = a[i + 12];
  const q = b[j + 12];
  if (p === null || q === null || typeof p !== 'object' || typeof q !== 'object') return p === q;
  const pk = Object.keys(p);
  const qk = Object.keys(q);
  if (pk.length !== qk.length) return false;
  for (let k = 0; k < pk.length; k++) {
    const v = (p as Record<string, unknown>)[pk[k]!];
    if (pk[k] !== qk[k] || typeof v !== 'string' || v !== (q as Record<string, unknown>)[qk[k]!]) return false;
  }
  return true;
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
  // The previous call's values and columns: a call like it is keyed without being built.
  let prev: unknown[] | undefined;
  let prevAt = 0;
  let cols: ReturnType<typeof lookupColumns>;
  for (let t = 0; t < texts.length; t++) {
    const packed = JSON.parse(texts[t]!) as unknown[];
    for (let at = 0; at + FIELDS <= packed.length; at += FIELDS) {
      const i = index++;
      const same = prev !== undefined && sameColumnInputs(prev, prevAt, packed, at);
      prev = packed;
      prevAt = at;
      let call: AuditedCall | undefined;
      if (!same) {
        call = callAt(packed, at);
        cols = lookupColumns(call);
      }
      if (!cols) continue;
      const time = packed[at + 16] as number;
      if (time < firstTime) firstTime = time;
      if (time > lastTime) lastTime = time;
      keys.addColumns(cols, time, t);
      if (wantLines) lines += `${JSON.stringify(cloudTrailRecord({ ...(call ?? callAt(packed, at)), eventId: eventIdOf(batchId, i) }))}\n`;
    }
  }
  if (lastTime === Number.NEGATIVE_INFINITY) return {};
  return { batch: { batchId, firstTime, lastTime, form: 2, calls: packBlob(texts), keys: keys.keys() }, ...(wantLines && { lines }) };
}
