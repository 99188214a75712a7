/**
 * A batch's calls, packed as each is recorded: its values (audit-batch.ts callValues) written at
 * once as JSON into a byte buffer outside V8's heap, so nothing of a call outlives its request on
 * the heap. Call objects queued until their batch was packed lived through a scavenge or two and
 * were promoted (about 420 bytes a manifest GET by --trace-gc-nvp, 15 without the trail), and
 * the old generation's marking and sweeping is work on V8's helper threads and the event loop.
 *
 * The bytes are the trail's texts as it stores them: each CALLS_PER_TEXT calls one JSON array.
 * Call i occupies bytes [start(i), start(i + 1)) and opens with `[` when it starts a text, `,`
 * otherwise; a text's closing `]` is added when the batch crosses (wire).
 *
 * Each call is also marked alike when the inputs of its lookup columns (the api, operation,
 * method, caller, region and parameters, audit-batch.ts) are those of the call before: a few
 * comparisons here spare the audit thread parsing and keying it (a flood repeats one caller,
 * operation and repository call after call).
 *
 * A call's values are written as three runs that repeat from call to call — its operation and
 * caller, its parameters and error, its region, address and agent — around its request id and
 * time, which do not. Each run's JSON is kept from the last call that wrote it and written again
 * only when its values differ (the JSON of an array is its elements' JSON joined by commas: the
 * bytes are the same). A call whose three runs are all the previous call's is that call's bytes
 * copied, with its request id and time written over the previous ones' (#repeat): a flood's call
 * costs a copy and about fifty byte stores, not JSON.stringify of eight values or more (most of
 * the packing's time on the event loop in a profile of manifest GETs at full rate).
 */
import { CALLS_PER_TEXT, callerValues, originValues, paramsErrorValues, type PackedWire } from './audit-batch.js';
import type { AuditedCall } from './cloudtrail-record.js';

type Principal = AuditedCall['principal'];

/** Bytes a call is given to start with; a manifest GET's call is about 250. */
const BYTES_PER_CALL = 384;

export class PackedCalls {
  #bytes: Buffer;
  #used = 0;
  #count = 0;
  // Per call its start and time (the wire's layout), and its mark: typed arrays, whose memory is
  // outside V8's heap (arrays of numbers kept for a second are promoted, 8 bytes a call each).
  #calls: Float64Array;
  #alike: Uint8Array;
  #firstTime: Date | undefined;
  // The previous call's inputs to its lookup columns (references only: nothing is copied).
  #api: string | undefined;
  #operation: string | undefined;
  #method: string | undefined;
  #region: string | undefined;
  #principal: Principal | undefined;
  #params: Readonly<Record<string, unknown>> | undefined;
  // The previous call's runs' JSON without the brackets (values' texts joined by commas), and
  // what decides whether the next call's are the same.
  #callerText = '';
  #paramsErrorText = '';
  #originText = '';
  #sourceIp: string | undefined;
  #userAgent: string | undefined;
  #errorCode: string | undefined;
  #errorMessage: string | undefined;
  // The previous call's first byte, and where its id and time stand from there (#repeat).
  #lastAt = 0;
  #idAt = 0;
  #idLength = -1;
  #timeAt = 0;
  #timeLength = 0;
  /** The parameters #paramsErrorText was written from, as flat names and strings; undefined when they were not flat. */
  #paramNames: string[] | undefined;
  #paramStrings: string[] | undefined;

  constructor(expectedCalls: number, spare?: PackedCalls) {
    // Grown when needed: a batch of 65,536 calls need not hold 25 MB from its first call.
    const calls = Math.min(Math.max(1, expectedCalls), 2048);
    if (spare && spare.#bytes.length >= calls * BYTES_PER_CALL && spare.#alike.length >= calls) {
      this.#bytes = spare.#bytes;
      this.#calls = spare.#calls;
      this.#alike = spare.#alike;
      spare.#released();
      return;
    }
    this.#bytes = Buffer.allocUnsafeSlow(calls * BYTES_PER_CALL);
    this.#calls = new Float64Array(2 * calls);
    this.#alike = new Uint8Array(calls);
  }

  /**
   * Takes nothing more: its memory goes to the next batch (the writer passes a stored batch as the
   * next one's `spare`). A batch's buffer (about 770 KB at 2,000 calls) lives past a few scavenges,
   * so its holder reaches the old generation and the buffer was freed only by a full mark-compact:
   * with the trail on, about 1 MB/s of external memory that made one every ~8 s at 1,500 GETs a
   * second (notes/2026-12-05-s14-gc.md).
   */
  #released(): void {
    this.#bytes = Buffer.alloc(0);
    this.#calls = new Float64Array(0);
    this.#alike = new Uint8Array(0);
    this.#used = 0;
    this.#count = 0;
  }

  get count(): number {
    return this.#count;
  }

  /** The first call's time (its batch id is drawn from it). */
  get firstTime(): Date | undefined {
    return this.#firstTime;
  }

  add(call: AuditedCall): void {
    const i = this.#count;
    const first = i === 0;
    const sameCaller =
      !first && call.api === this.#api && call.operation === this.#operation && call.method === this.#method && samePrincipal(call.principal, this.#principal);
    const sameParamsError = !first && call.error?.code === this.#errorCode && call.error?.message === this.#errorMessage && this.#sameParamsText(call.params);
    const sameOrigin = !first && call.region === this.#region && call.sourceIp === this.#sourceIp && call.userAgent === this.#userAgent;
    const time = call.time.getTime();
    const at = this.#used;
    if (!(sameCaller && sameParamsError && sameOrigin && this.#repeat(call.requestId, time, i))) {
      // Every text before anything changes: stringify throws for a call JSON cannot write.
      const callerText = sameCaller ? this.#callerText : inner(callerValues(call));
      const paramsErrorText = sameParamsError ? this.#paramsErrorText : inner(paramsErrorValues(call));
      const originText = sameOrigin ? this.#originText : inner(originValues(call));
      this.#write(`${i % CALLS_PER_TEXT === 0 ? '[' : ','}${callerText},${paramsErrorText},`, call.requestId, time, originText);
      this.#callerText = callerText;
      this.#originText = originText;
      if (!sameParamsError) {
        this.#paramsErrorText = paramsErrorText;
        this.#errorCode = call.error?.code;
        this.#errorMessage = call.error?.message;
        this.#keepParams(call.params);
      }
    }
    if (i === this.#alike.length) this.#growCalls();
    this.#calls[2 * i] = at;
    this.#calls[2 * i + 1] = time;
    this.#alike[i] = sameCaller && call.region === this.#region && sameFlatParams(call.params, this.#params) ? 1 : 0;
    this.#count = i + 1;
    this.#api = call.api;
    this.#operation = call.operation;
    this.#method = call.method;
    this.#region = call.region;
    this.#principal = call.principal;
    this.#params = call.params;
    this.#sourceIp = call.sourceIp;
    this.#userAgent = call.userAgent;
    this.#firstTime ??= call.time;
  }

  /**
   * Writes a call whose every other value is the previous call's as a copy of that call's bytes
   * with its own request id and time put in their places: when the id is as long as the previous
   * one's and JSON writes it as it is, and the time has as many digits. False otherwise (what it
   * wrote past the used bytes is then written over).
   */
  #repeat(id: string, time: number, i: number): boolean {
    const idLength = this.#idLength;
    const timeLength = this.#timeLength;
    if (idLength < 0 || timeLength <= 0 || typeof id !== 'string' || id.length !== idLength || !(time >= 0 && time < MAX_REPEAT_TIME && Number.isInteger(time)))
      return false;
    const from = this.#lastAt;
    const at = this.#used;
    const length = at - from;
    if (at + length > this.#bytes.length) this.#grow(at + length);
    const b = this.#bytes;
    // TypedArray's own copy and byte stores: no call into Node's Buffer code per call.
    b.copyWithin(at, from, at);
    b[at] = i % CALLS_PER_TEXT === 0 ? 0x5b : 0x2c;
    for (let k = 0, p = at + this.#idAt; k < idLength; k++, p++) {
      const c = id.charCodeAt(k);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      b[p] = c;
    }
    // Digits from the last, in int32 arithmetic: a double's % is a call to fmod (time < 2^31 * 1e6).
    const high = Math.floor(time / 1e6);
    let low = (time - high * 1e6) | 0;
    let rest = high | 0;
    const timeAt = at + this.#timeAt;
    let p = timeAt + timeLength - 1;
    for (const lowEnd = Math.max(timeAt, p - 5); p >= lowEnd; p--) {
      const q = (low / 10) | 0;
      b[p] = 0x30 + low - q * 10;
      low = q;
    }
    for (; p >= timeAt; p--) {
      const q = (rest / 10) | 0;
      b[p] = 0x30 + rest - q * 10;
      rest = q;
    }
    // More digits than the previous time's, or fewer (a leading zero is no JSON number).
    if (low !== 0 || rest !== 0 || (timeLength > 1 && b[timeAt] === 0x30)) return false;
    this.#lastAt = at;
    this.#used = at + length;
    return true;
  }

  /** Writes a call from its texts: `head` (its opening byte, caller, parameters and error, and a comma), then its id, time and origin. */
  #write(head: string, id: string, time: number, originText: string): void {
    // A request id of printable ASCII without quote or backslash (randomUUID's) is its own JSON.
    const plainId = typeof id === 'string' && PLAIN_ASCII.test(id);
    const idText = plainId ? `"${id}"` : inner([id]);
    const timeText = Number.isFinite(time) ? String(time) : 'null';
    const tail = `${idText},${timeText},${originText}`;
    // UTF-8 takes at most three bytes per UTF-16 unit.
    const needed = this.#used + (head.length + tail.length) * 3;
    if (needed > this.#bytes.length) this.#grow(needed);
    const at = this.#used;
    const headBytes = this.#bytes.write(head, at);
    this.#used = at + headBytes + this.#bytes.write(tail, at + headBytes);
    this.#lastAt = at;
    // Where #repeat puts the next call's id and time, when both are plain.
    this.#idAt = headBytes + 1;
    this.#idLength = plainId ? id.length : -1;
    this.#timeAt = headBytes + idText.length + 1;
    this.#timeLength = time >= 0 && Number.isSafeInteger(time) ? timeText.length : 0;
  }

  /**
   * Whether `params` make the JSON #paramsErrorText was written from: both absent, or flat
   * objects of the same strings under the same names in the same order (a /v2 route's). Compared
   * with the values as they were then, not by identity: an object may have changed since.
   */
  #sameParamsText(params: Readonly<Record<string, unknown>> | undefined): boolean {
    const names = this.#paramNames;
    const strings = this.#paramStrings;
    if (params === undefined || names === undefined || strings === undefined) return params === undefined && this.#params === undefined && names === undefined;
    if (params === null || typeof params !== 'object') return false;
    let n = 0;
    for (const k in params) {
      const v = params[k];
      if (n >= names.length || names[n] !== k || strings[n] !== v || !Object.hasOwn(params, k)) return false;
      n++;
    }
    return n === names.length;
  }

  #keepParams(params: Readonly<Record<string, unknown>> | undefined): void {
    this.#paramNames = undefined;
    this.#paramStrings = undefined;
    if (params === undefined || params === null || typeof params !== 'object' || Array.isArray(params)) return;
    const names: string[] = [];
    const strings: string[] = [];
    for (const k in params) {
      const v = params[k];
      if (typeof v !== 'string' || !Object.hasOwn(params, k)) return;
      names.push(k);
      strings.push(v);
    }
    this.#paramNames = names;
    this.#paramStrings = strings;
  }

  /**
   * The texts' bytes, each closed by its `]` (a copy, in buffers of its own, which may be moved to
   * another thread), where each text ends, and each call's start, time and mark.
   */
  wire(): PackedWire {
    const n = this.#count;
    const texts = Math.ceil(n / CALLS_PER_TEXT);
    const bytes = new Uint8Array(this.#used + texts);
    const ends: number[] = [];
    for (let t = 0, from = 0; t < texts; t++) {
      const to = t + 1 < texts ? this.#calls[2 * (t + 1) * CALLS_PER_TEXT]! : this.#used;
      bytes.set(this.#bytes.subarray(from, to), from + t);
      bytes[to + t] = 0x5d;
      ends.push(to + t + 1);
      from = to;
    }
    // Each `]` before a call moves it one byte on.
    const calls = this.#calls.slice(0, 2 * n);
    for (let i = CALLS_PER_TEXT; i < n; i++) calls[2 * i]! += Math.floor(i / CALLS_PER_TEXT);
    return { bytes, ends, calls, alike: this.#alike.slice(0, n) };
  }

  texts(): string[] {
    const { bytes, ends } = this.wire();
    return textsOf(bytes, ends);
  }

  /** Its first n calls (what a retry puts back when the buffer has room for only that many). */
  prefix(n: number): PackedCalls {
    const p = new PackedCalls(0);
    n = Math.min(n, this.#count);
    const end = n < this.#count ? this.#calls[2 * n]! : this.#used;
    p.#bytes = Buffer.from(this.#bytes.subarray(0, end));
    p.#used = end;
    p.#count = n;
    p.#calls = this.#calls.slice(0, 2 * Math.max(1, n));
    p.#alike = this.#alike.slice(0, Math.max(1, n));
    p.#firstTime = n > 0 ? this.#firstTime : undefined;
    return p;
  }

  #growCalls(): void {
    const calls = new Float64Array(2 * this.#calls.length);
    calls.set(this.#calls);
    this.#calls = calls;
    const alike = new Uint8Array(2 * this.#alike.length);
    alike.set(this.#alike);
    this.#alike = alike;
  }

  #grow(needed: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, this.#bytes.length * 2));
    this.#bytes.copy(bigger, 0, 0, this.#used);
    this.#bytes = bigger;
  }
}

/** Times #repeat writes: their millions fit an int32 (the year 70,000). */
const MAX_REPEAT_TIME = 2 ** 31 * 1e6;

/** Printable ASCII but `"` and `\\`: JSON writes such a string as it is, between quotes. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The JSON of `values` without its brackets. */
function inner(values: unknown[]): string {
  const json = JSON.stringify(values);
  return json.slice(1, -1);
}

/** The texts a batch's bytes hold (PackedCalls.wire). */
export function textsOf(bytes: Uint8Array, ends: readonly number[]): string[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  return ends.map((end) => {
    const text = b.toString('utf8', start, end);
    start = end;
    return text;
  });
}

/** Alike callers: the same object, or the same values where callValues reads them. */
function samePrincipal(a: Principal, b: Principal | undefined): boolean {
  if (a === b) return true;
  if (b === undefined) return false;
  const r = a.session?.role;
  const q = b.session?.role;
  return (
    a.arn === b.arn &&
    a.accountId === b.accountId &&
    a.kind === b.kind &&
    a.userName === b.userName &&
    a.accessKeyId === b.accessKeyId &&
    a.principalArn === b.principalArn &&
    r?.name === q?.name &&
    r?.roleId === q?.roleId &&
    r?.sessionName === q?.sessionName
  );
}

/**
 * Alike parameters: both absent, the same object, or both flat objects of the same string values
 * under the same names (a /v2 route's). Anything else counts as different, and the thread keys it
 * anew. The columns read parameters by name, so their order does not matter.
 */
function sameFlatParams(a: Readonly<Record<string, unknown>> | undefined, b: Readonly<Record<string, unknown>> | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  let n = 0;
  for (const k in a) {
    const v = a[k];
    if (typeof v !== 'string' || !Object.hasOwn(b, k) || b[k] !== v) return false;
    n++;
  }
  for (const k in b) if (Object.hasOwn(b, k)) n--;
  return n === 0;
}

/** The texts of these calls, as the trail stores them. */
export function packCalls(calls: readonly AuditedCall[]): string[] {
  const { bytes, ends } = wireOf(calls);
  return textsOf(bytes, ends);
}

/** These calls as the audit thread gets them. */
export function wireOf(calls: readonly AuditedCall[]): PackedWire {
  const p = new PackedCalls(calls.length);
  for (const c of calls) p.add(c);
  return p.wire();
}
