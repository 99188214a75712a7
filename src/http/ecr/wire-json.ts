/**
 * The body of an AWS JSON 1.1 answer as bytes: timestamps as epoch seconds, an absent member left
 * out (never null; a null inside a list stays), everything else as JSON.stringify writes it.
 *
 * Two costs of the obvious `JSON.stringify(value, replacer)` are avoided, both large on a listing
 * page (a 1,000-image DescribeImages page is ~320 KB): a replacer function puts V8's serializer
 * on its slow path, one call back into JavaScript per member; and a string over 128 KiB is
 * allocated in the large-object space, where building it, measuring its UTF-8 length and
 * writing it to the socket each cost several times more per byte than for small strings. So the
 * value is first copied with its timestamps and nulls already turned into their wire form (a
 * cheap walk), then serialized without a replacer, a long list a slice at a time, each slice
 * straight into a Buffer. Same bytes as the replacer gave (wire-json.test.ts).
 */

import { release } from '../../core/fresh-pieces.js';

/**
 * A timestamp in its wire form, epoch seconds. The listings' shapes are built with it: toWire
 * then finds nothing to change in an item and copies none (a 1,000-image page is half as costly
 * to serialize: ~0.7 ms of ~1.4).
 */
export function wireTime(d: Date): number {
  return d.getTime() / 1000;
}

/** Items of a list serialized together: a slice of a listing page stays well under 128 KiB. */
const SLICE = 100;

/**
 * `v` with every Date as epoch seconds and every null or undefined object member dropped. Copied
 * only where something changes: a listing's items without timestamps (ListImages' ids) are
 * serialized as they are, and fewer copies are fewer scavenges of the young generation, which
 * main.ts keeps small.
 */
function toWire(v: unknown, key: string | number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return wireTime(v);
  if (v instanceof WireList) return v;
  // Another object that renders itself (JSON.stringify would call it, then the replacer).
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return toWire(toJSON.call(v, String(key)), key);
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const w = toWire(x, i);
      if (out === undefined && w !== x) out = v.slice(0, i);
      out?.push(w);
    }
    return out ?? v;
  }
  const keys = Object.keys(v);
  let out: Record<string, unknown> | undefined;
  for (let j = 0; j < keys.length; j++) {
    const k = keys[j]!;
    const x = (v as Record<string, unknown>)[k];
    const w = x === null || x === undefined ? undefined : toWire(x, k);
    if (out === undefined && w !== x) {
      out = {};
      for (let i = 0; i < j; i++) out[keys[i]!] = (v as Record<string, unknown>)[keys[i]!];
    }
    if (out !== undefined && w !== undefined) out[k] = w;
  }
  return out ?? v;
}

const COMMA = Buffer.from(',');
const EMPTY_LIST = Buffer.from('[]');
const CLOSE_LIST = Buffer.from(']');

/**
 * A listing page written as it is built: an action adds its items a slice at a time, each slice
 * turned into wire bytes at once, so the slice's objects (rows, details, shapes, their wire
 * copies) are dead before the next slice is built. Built whole, a 1,000-image DescribeImages page
 * stays alive across several scavenges of the small young generation (main.ts) and is promoted:
 * walks of a 100,000-image repository grew the old generation by ~40 MB of garbage that V8 then
 * kept. The slices' bytes live as long as the page, long enough for their small Buffer objects
 * to be promoted too, and a promoted Buffer's memory is freed only by a full collection: so
 * wireJson frees them (fresh-pieces.ts' release) once it has copied them into the answer. A
 * WireList is written once, and only as a top-level member of an answer.
 */
export class WireList {
  /** `[a,b` `,c,d` ...: the closing bracket is added when the answer is written. */
  readonly parts: Buffer[] = [];
  /** The slices' own buffers, `parts` cut from them. */
  private readonly slices: Buffer[] = [];

  /**
   * `inWireForm`: the items hold no Date, null or undefined member at any depth (the listings'
   * shapes, built with wireTime), so they are serialized as they are. toWire would find nothing
   * to change in them, but its walk is a call per member at a site that sees every kind of
   * value: V8 optimized and threw away toWire's code nine times in a server's first walk of
   * DescribeImages pages, whose CPU is ~0.91x with the walk skipped (notes/2026-12-06-s25-list.md).
   */
  add(items: unknown[], inWireForm = false): void {
    if (items.length === 0) return;
    const text = JSON.stringify(inWireForm ? items : toWire(items, ''));
    // A buffer of its own, which release() can detach (Buffer.from's of a long string cannot be).
    const slice = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    slice.write(text);
    this.slices.push(slice);
    const later = this.parts.length > 0;
    if (later) this.parts.push(COMMA);
    this.parts.push(slice.subarray(later ? 1 : 0, slice.length - 1));
  }

  /** After the answer was copied out: the slices' memory goes back to malloc now, not at a full GC. */
  free(): void {
    for (const s of this.slices) release(s);
    this.slices.length = 0;
    this.parts.length = 0;
  }

  toJSON(): never {
    throw new Error('a WireList is written only as a top-level member of an answer');
  }
}

/** A list of any length, `[` ... `]`, a slice at a time. */
function pushList(parts: Buffer[], list: unknown[]): void {
  if (list.length <= SLICE) {
    parts.push(Buffer.from(JSON.stringify(list)));
    return;
  }
  for (let i = 0; i < list.length; i += SLICE) {
    // Each slice's own brackets become the list's: `[a,b` `,c,d` `,e]`. Cut from the bytes, not
    // the string: no second copy of the text on the heap.
    const slice = Buffer.from(JSON.stringify(list.slice(i, i + SLICE)));
    if (i > 0) parts.push(COMMA);
    parts.push(slice.subarray(i === 0 ? 0 : 1, i + SLICE >= list.length ? slice.length : slice.length - 1));
  }
}

/** The answer's bytes. A top-level object's long lists (the listings' pages) go a slice at a time. */
export function wireJson(value: unknown): Buffer {
  const wire = toWire(value, '');
  // (A WireList here, not as a member, throws: its toJSON.)
  if (wire === null || typeof wire !== 'object' || Array.isArray(wire) || wire instanceof WireList) return Buffer.from(JSON.stringify(wire) ?? 'null');
  const parts: Buffer[] = [];
  const lists: WireList[] = [];
  let first = true;
  for (const [k, v] of Object.entries(wire)) {
    if (v instanceof WireList) {
      parts.push(Buffer.from(`${first ? '{' : ','}${JSON.stringify(k)}:`));
      first = false;
      if (v.parts.length === 0) parts.push(EMPTY_LIST);
      else parts.push(...v.parts, CLOSE_LIST);
      lists.push(v);
      continue;
    }
    // A member JSON cannot hold (a function) is left out, as JSON.stringify leaves it.
    const text = Array.isArray(v) ? undefined : (JSON.stringify(v) as string | undefined);
    if (!Array.isArray(v) && text === undefined) continue;
    parts.push(Buffer.from(`${first ? '{' : ','}${JSON.stringify(k)}:`));
    first = false;
    if (text === undefined) pushList(parts, v as unknown[]);
    else parts.push(Buffer.from(text));
  }
  parts.push(Buffer.from(first ? '{}' : '}'));
  const body = Buffer.concat(parts);
  for (const l of lists) l.free();
  return body;
}
