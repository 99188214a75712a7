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
 * operation and repository call after call). A call whose operation and caller are the previous
 * call's takes its first CALLER_VALUES values' bytes from that call: JSON.stringify of them was
 * about half of a manifest GET's packing on the event loop.
 */
import { CALLER_VALUES, CALLS_PER_TEXT, TIME_AT, callerValues, restValues, type PackedWire } from './audit-batch.js';
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
  // Where the last call whose caller was written anew has its caller's values' bytes.
  #callerAt = 0;
  #callerLength = 0;

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
    const sameCaller =
      i > 0 && call.api === this.#api && call.operation === this.#operation && call.method === this.#method && samePrincipal(call.principal, this.#principal);
    const rest = restValues(call);
    // Both texts before anything changes: stringify throws for a call JSON cannot write.
    const restJson = JSON.stringify(rest);
    const callerJson = sameCaller ? undefined : JSON.stringify(callerValues(call));
    // UTF-8 takes at most three bytes per UTF-16 unit.
    const needed = this.#used + 2 + (callerJson === undefined ? this.#callerLength : callerJson.length * 3) + restJson.length * 3;
    if (needed > this.#bytes.length) this.#grow(needed);
    const b = this.#bytes;
    const at = this.#used;
    // The call's `[...]` without its `]`: its caller's values, a `,`, then the rest's. Each JSON
    // text's opening `[` lands on the byte that becomes the `,` before it.
    let restAt: number;
    if (callerJson === undefined) {
      b.copy(b, at + 1, this.#callerAt, this.#callerAt + this.#callerLength);
      restAt = at + 1 + this.#callerLength;
    } else {
      const written = b.write(callerJson, at);
      this.#callerAt = at + 1;
      this.#callerLength = written - 2;
      restAt = at + written - 1;
    }
    const written = b.write(restJson, restAt);
    b[restAt] = 0x2c;
    b[at] = i % CALLS_PER_TEXT === 0 ? 0x5b : 0x2c;
    this.#used = restAt + written - 1;
    if (i === this.#alike.length) this.#growCalls();
    this.#calls[2 * i] = at;
    this.#calls[2 * i + 1] = rest[TIME_AT - CALLER_VALUES] as number;
    this.#alike[i] = sameCaller && call.region === this.#region && sameFlatParams(call.params, this.#params) ? 1 : 0;
    this.#count = i + 1;
    this.#api = call.api;
    this.#operation = call.operation;
    this.#method = call.method;
    this.#region = call.region;
    this.#principal = call.principal;
    this.#params = call.params;
    this.#firstTime ??= call.time;
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
