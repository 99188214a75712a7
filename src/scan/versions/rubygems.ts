/**
 * RubyGems version ordering (Gem::Version#<=>, RubyGems 3.x).
 *
 * A version is `[0-9]+(.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(.[0-9A-Za-z-]+)*)?`, surrounding
 * whitespace allowed, empty meaning "0". `-` is read as `.pre.`. The string is cut into
 * segments (runs of digits, runs of letters); the canonical segments drop trailing zeros
 * from the leading numeric part and from the part after the first letter segment. Segments
 * compare pairwise, missing ones as 0; a letter segment sorts below a number (so any
 * letter makes a pre-release), letters compare as byte strings, numbers numerically.
 */

import { type Cmp, type Parsed, compareDigits, compareParsedOrInvalid, compareStrings, defineOrdering, stripZeros } from './ordering.js';

type Segment = { num: true; v: string } | { num: false; v: string };

const CORRECT = /^\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*$/;

export function isValidGem(v: string): boolean {
  return CORRECT.test(v);
}

function canonicalSegments(version: string): Segment[] {
  const segs: Segment[] = (version.match(/[0-9]+|[a-z]+/gi) ?? []).map((s) => (/^[0-9]/.test(s) ? { num: true, v: stripZeros(s) } : { num: false, v: s }));
  const firstString = segs.findIndex((s) => !s.num);
  const numeric = firstString < 0 ? segs : segs.slice(0, firstString);
  const rest = firstString < 0 ? [] : segs.slice(firstString);
  const dropZeros = (list: Segment[]) => {
    let n = list.length;
    while (n > 0 && list[n - 1]!.num && list[n - 1]!.v === '0') n--;
    return list.slice(0, n);
  };
  return [...dropZeros(numeric), ...dropZeros(rest)];
}

export function parseGem(raw: string): Parsed<Segment[]> {
  if (!CORRECT.test(raw)) return { ok: false, raw };
  const trimmed = raw.trim();
  const version = (trimmed === '' ? '0' : trimmed).replaceAll('-', '.pre.');
  return { ok: true, value: canonicalSegments(version) };
}

const ZERO: Segment = { num: true, v: '0' };

export function compareGemSegments(a: Segment[], b: Segment[]): Cmp {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? ZERO;
    const y = b[i] ?? ZERO;
    if (x.num === y.num && x.v === y.v) continue;
    if (!x.num && y.num) return -1;
    if (x.num && !y.num) return 1;
    return x.num ? compareDigits(x.v, y.v) : compareStrings(x.v, y.v);
  }
  return 0;
}

export const rubygems = defineOrdering<Parsed<Segment[]>>({
  name: 'rubygems',
  parse: parseGem,
  compareParsed: (a, b) => compareParsedOrInvalid(a, b, compareGemSegments),
  isValid: isValidGem,
});
