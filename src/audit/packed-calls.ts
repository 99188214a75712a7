/**
 * A batch's calls, packed as each is recorded: its values (audit-batch.ts callValues) written at
 * once as JSON into a byte buffer outside V8's heap, so nothing of a call outlives its request on
 * the heap. Call objects queued until their batch was packed lived through a scavenge or two and
 * were promoted (about 420 bytes a manifest GET by --trace-gc-nvp, 15 without the trail), and
 * the old generation's marking and sweeping is work on V8's helper threads and the event loop.
 *
 * The bytes are the trail's texts as it stores them: each CALLS_PER_TEXT calls one JSON array.
 * Call i occupies bytes [start(i), start(i + 1)) and opens with `[` when it starts a text, `,`
 * otherwise; a text's closing `]` is added when it is read (textsOf).
 */
import { CALLS_PER_TEXT, callValues } from './audit-batch.js';
import type { AuditedCall } from './cloudtrail-record.js';

/** Bytes a call is given to start with; a manifest GET's call is about 250. */
const BYTES_PER_CALL = 384;

export class PackedCalls {
  #bytes: Buffer;
  #used = 0;
  readonly #starts: number[] = [];
  #firstTime: Date | undefined;

  constructor(expectedCalls: number) {
    // Grown when needed: a batch of 65,536 calls need not hold 25 MB from its first call.
    this.#bytes = Buffer.allocUnsafeSlow(Math.min(Math.max(1, expectedCalls), 1024) * BYTES_PER_CALL);
  }

  get count(): number {
    return this.#starts.length;
  }

  /** The first call's time (its batch id is drawn from it). */
  get firstTime(): Date | undefined {
    return this.#firstTime;
  }

  add(call: AuditedCall): void {
    const json = JSON.stringify(callValues(call));
    // UTF-8 takes at most three bytes per UTF-16 unit.
    if (this.#used + json.length * 3 > this.#bytes.length) this.#grow(this.#used + json.length * 3);
    const at = this.#used;
    const written = this.#bytes.write(json, at);
    // The call's `[...]` without its `]`: a `,` in place of its `[` unless it opens a text.
    if (this.#starts.length % CALLS_PER_TEXT !== 0) this.#bytes[at] = 0x2c;
    this.#used = at + written - 1;
    this.#starts.push(at);
    this.#firstTime ??= call.time;
  }

  /** The texts' bytes (a copy, which may be handed to another thread) and where each text ends. */
  wire(): { bytes: Uint8Array; ends: number[] } {
    const ends: number[] = [];
    for (let i = CALLS_PER_TEXT; i < this.#starts.length; i += CALLS_PER_TEXT) ends.push(this.#starts[i]!);
    if (this.#used > 0) ends.push(this.#used);
    return { bytes: new Uint8Array(this.#bytes.subarray(0, this.#used)), ends };
  }

  texts(): string[] {
    const { bytes, ends } = this.wire();
    return textsOf(bytes, ends);
  }

  /** Its first n calls (what a retry puts back when the buffer has room for only that many). */
  prefix(n: number): PackedCalls {
    const p = new PackedCalls(0);
    const end = n < this.#starts.length ? this.#starts[n]! : this.#used;
    p.#bytes = Buffer.from(this.#bytes.subarray(0, end));
    p.#used = end;
    p.#starts.push(...this.#starts.slice(0, n));
    p.#firstTime = n > 0 ? this.#firstTime : undefined;
    return p;
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
    const text = `${b.toString('utf8', start, end)}]`;
    start = end;
    return text;
  });
}

/** The texts of these calls, as the audit thread gets them. */
export function packCalls(calls: readonly AuditedCall[]): string[] {
  const p = new PackedCalls(calls.length);
  for (const c of calls) p.add(c);
  return p.texts();
}
