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

export interface AuditBatch extends PackedWire {
  id: number;
  /** The trail's batch id (event-id.ts), drawn once per batch and kept by its retries. */
  batchId: string;
  /** Return the records as JSON lines too (the auditLog file), which a retried batch already wrote. */
  lines: boolean;
}

/**
 * A batch's calls as they cross to the audit thread (packed-calls.ts PackedCalls.wire): the
 * texts' UTF-8 bytes, each text's end in them, and per call where it starts, its time and whether
 * the event loop found its lookup columns' inputs the same as the previous call's (`alike`), so
 * that the thread parses and keys only the calls that differ.
 */
export interface PackedWire {
  bytes: Uint8Array;
  ends: number[];
  /** Call i's first byte (its `[` or `,`) at `calls[2i]`, its time (ms) at `calls[2i + 1]`. */
  calls: Float64Array;
  /** 1 where call i's lookup columns have the same inputs as call i - 1's (packed-calls.ts). */
  alike: Uint8Array;
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

/** Where a call's time (epoch ms) stands among its callValues. */
export const TIME_AT = 16;

/**
 * How many of a call's values come from its operation and caller (callerValues): the same call
 * after call in a flood, so packed-calls.ts writes their JSON once per run and copies its bytes.
 */
export const CALLER_VALUES = 12;

/** A call's FIELDS values, in the order unpackText reads them. */
export function callValues(c: AuditedCall): unknown[] {
  return [...callerValues(c), ...restValues(c)];
}

/** callValues' first CALLER_VALUES: the operation and the caller's identity. */
export function callerValues(c: AuditedCall): unknown[] {
  const p = c.principal;
  const role = p.session?.role;
  return [c.api, c.operation, c.method, p.arn, p.accountId, p.kind, p.userName, p.accessKeyId, p.principalArn, role?.name, role?.roleId, role?.sessionName];
}

/** callValues after the first CALLER_VALUES: what changes from call to call. */
export function restValues(c: AuditedCall): unknown[] {
  return [...paramsErrorValues(c), c.requestId, c.time.getTime(), ...originValues(c)];
}

/** restValues' first three: the parameters and the error (the same call after call in a flood of one route). */
export function paramsErrorValues(c: AuditedCall): unknown[] {
  const message = c.error?.message;
  return [c.params, c.error?.code, message !== undefined && message.length > MAX_TEXT ? message.slice(0, MAX_TEXT) : message];
}

/** restValues' last three, after the request id and the time: where the call came from (the same for a client's every call). */
export function originValues(c: AuditedCall): unknown[] {
  const ua = c.userAgent;
  return [c.region, c.sourceIp, ua !== undefined && ua.length > MAX_TEXT ? ua.slice(0, MAX_TEXT) : ua];
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
    time: new Date(packed[i + TIME_AT] as number),
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

/** The texts of a batch as it crossed (each text's bytes, `]` included). */
export function wireTexts(w: Pick<PackedWire, 'bytes' | 'ends'>): Uint8Array[] {
  let start = 0;
  return w.ends.map((end) => {
    const text = w.bytes.subarray(start, end);
    start = end;
    return text;
  });
}

/**
 * The stored batch of packed texts (undefined when none of its calls is recorded) and, when
 * wanted, the records' JSON lines, each under the event id its place in the batch gives it.
 *
 * The texts are stored as they came (deflated from their bytes). Keys need each call's lookup
 * columns: a call the event loop marked alike takes the previous call's, and its time from
 * `calls`, without being parsed; a run of alike calls in one text is added to the keys once, with
 * its first and last time (a key keeps only its times' range and its texts). JSON.parse of every
 * text and the keying of every call were most of the audit thread's work under a flood. The
 * auditLog's lines need every call built, so a batch that wants them is parsed whole.
 */
export function storedBatch(batchId: string, wire: PackedWire, wantLines: boolean): { batch?: AuditBatchRow; lines?: string } {
  const texts = wireTexts(wire);
  const keyed = wantLines ? keyedWhole(batchId, texts) : keyedByRuns(wire);
  if (keyed === undefined) return {};
  const { keys, firstTime, lastTime, lines } = keyed;
  return { batch: { batchId, firstTime, lastTime, form: 2, calls: packBlob(texts), keys: keys.keys() }, ...(wantLines && { lines }) };
}

interface Keyed {
  keys: KeyCollector;
  firstTime: number;
  lastTime: number;
  lines: string;
}

/** Every call parsed and keyed (and its record's line written), a call like the one before keyed without being built. */
function keyedWhole(batchId: string, texts: readonly Uint8Array[]): Keyed | undefined {
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
    const packed = JSON.parse(utf8(texts[t]!, 0, texts[t]!.length)) as unknown[];
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
      const time = packed[at + TIME_AT] as number;
      if (time < firstTime) firstTime = time;
      if (time > lastTime) lastTime = time;
      keys.addColumns(cols, time, t);
      lines += `${JSON.stringify(cloudTrailRecord({ ...(call ?? callAt(packed, at)), eventId: eventIdOf(batchId, i) }))}\n`;
    }
  }
  return lastTime === Number.NEGATIVE_INFINITY ? undefined : { keys, firstTime, lastTime, lines };
}

/** Keyed from the loop's marks: only a call unlike the one before is parsed (alone) and keyed anew. */
function keyedByRuns(w: PackedWire): Keyed | undefined {
  const keys = new KeyCollector();
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  const n = w.alike.length;
  // The current run: alike calls of one text, with its columns and times' range.
  let cols: ReturnType<typeof lookupColumns>;
  let runFirst = 0;
  let runLast = 0;
  let runText = -1;
  const endRun = () => {
    if (cols && runText >= 0) {
      keys.addColumns(cols, runFirst, runText);
      if (runFirst !== runLast) keys.addColumns(cols, runLast, runText);
      if (runFirst < firstTime) firstTime = runFirst;
      if (runLast > lastTime) lastTime = runLast;
    }
    runText = -1;
  };
  for (let i = 0; i < n; i++) {
    const t = Math.floor(i / CALLS_PER_TEXT);
    const time = w.calls[2 * i + 1]!;
    if (i === 0 || w.alike[i] !== 1) {
      endRun();
      cols = lookupColumns(callAt(JSON.parse(callText(w, i)) as unknown[], 0));
    } else if (t !== runText) endRun();
    if (runText < 0) {
      runText = t;
      runFirst = runLast = time;
    } else {
      if (time < runFirst) runFirst = time;
      if (time > runLast) runLast = time;
    }
  }
  endRun();
  return lastTime === Number.NEGATIVE_INFINITY ? undefined : { keys, firstTime, lastTime, lines: '' };
}

/** Call i's values as the text of a JSON array (its bytes open with `[` or `,`; a text's last call's close with `]`). */
function callText(w: PackedWire, i: number): string {
  const start = w.calls[2 * i]!;
  const lastOfText = (i + 1) % CALLS_PER_TEXT === 0 || i + 1 === w.alike.length;
  const end = lastOfText ? w.ends[Math.floor(i / CALLS_PER_TEXT)]! : w.calls[2 * (i + 1)]!;
  return `[${utf8(w.bytes, start + 1, end)}${lastOfText ? '' : ']'}`;
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', start, end);
}
