/**
 * Maven version ordering, per the POM reference's "Version Order Specification" and the
 * ComparableVersion behaviour it describes, as OSV.dev evaluates Maven ranges:
 *
 * - Split on `.` and `-` and at every digit/non-digit transition (a transition acts as `-`);
 *   the separator before each token is kept and matters. Empty tokens are `0`.
 * - Case-insensitive; `cr` = `rc`; `ga`, `final`, `release` = "" (the release); `a`, `b`,
 *   `m` directly followed by a number mean alpha, beta, milestone.
 * - Trailing "null" tokens (0, "", final, ga) are trimmed, repeated before each hyphen.
 * - Comparison pads the shorter version with nulls of the other's prefix (`.0` or `-`),
 *   orders tokens with the same prefix as numbers (numerically; above qualifiers) or
 *   qualifiers (alpha < beta < milestone < rc < snapshot < "" < sp < unknown, unknowns
 *   lexically), and tokens with different prefixes as `.qualifier` < `-qualifier` <
 *   `-number` < `.number`.
 *
 * Every string is a Maven version (Maven accepts anything), so `isValid` only refuses empty
 * strings and whitespace.
 */

import { type Cmp, compareDigits, compareStrings, defineOrdering, stripZeros } from './ordering.js';

export interface MavenToken {
  prefix: '' | '.' | '-';
  value: string;
  numeric: boolean;
}

const KEYWORDS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const TRIM = new Set(['0', '', 'final', 'ga']);

function isAsciiDigits(s: string): boolean {
  return s.length > 0 && /^[0-9]+$/.test(s);
}

function splitTransitions(piece: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i < piece.length; i++) {
    const d0 = /[0-9]/.test(piece[i - 1]!);
    const d1 = /[0-9]/.test(piece[i]!);
    if (d0 !== d1) {
      out.push(piece.slice(start, i));
      start = i;
    }
  }
  out.push(piece.slice(start));
  return out;
}

export function parseMaven(raw: string): MavenToken[] {
  const tokens: MavenToken[] = [];
  const parts = raw.split(/([-.])/);
  for (let i = 0; i < parts.length; i += 2) {
    let prefix: MavenToken['prefix'] = i === 0 ? '' : (parts[i - 1] as '.' | '-');
    const subs = splitTransitions(parts[i]!);
    subs.forEach((sub, j) => {
      if (j > 0) prefix = '-';
      let v = sub.toLowerCase();
      if (v === '') v = '0';
      if (v === 'cr') v = 'rc';
      if (v === 'ga' || v === 'final' || v === 'release') v = '';
      if (j < subs.length - 1) {
        // Only a qualifier directly followed by a number takes the long form.
        if (v === 'a') v = 'alpha';
        else if (v === 'b') v = 'beta';
        else if (v === 'm') v = 'milestone';
      }
      const numeric = isAsciiDigits(v);
      tokens.push({ prefix, value: numeric ? stripZeros(v) : v, numeric });
    });
  }
  // Trim trailing nulls, then again before each hyphen, walking back to the start.
  let i = tokens.length - 1;
  while (i > 0) {
    if (TRIM.has(tokens[i]!.value)) {
      tokens.splice(i, 1);
      i--;
      continue;
    }
    while (i >= 0 && tokens[i]!.prefix !== '-') i--;
    i--;
  }
  return tokens;
}

function prefixRank(t: MavenToken): number {
  if (t.numeric) return t.prefix === '-' ? 2 : 3;
  return t.prefix === '-' ? 1 : 0;
}

function keywordIndex(v: string): number {
  const k = KEYWORDS.indexOf(v);
  return k < 0 ? KEYWORDS.length : k;
}

// `padded` marks the nulls added for comparison: a padded "0" does not outrank qualifiers.
function tokenCmp(a: MavenToken, aPadded: boolean, b: MavenToken, bPadded: boolean): Cmp {
  if (a.prefix === b.prefix && a.value === b.value) return 0;
  if (a.prefix !== b.prefix) return prefixRank(a) < prefixRank(b) ? -1 : 1;
  if (a.numeric && b.numeric) return compareDigits(a.value, b.value);
  if (a.numeric && !aPadded) return 1;
  if (b.numeric && !bPadded) return -1;
  const ka = keywordIndex(a.value);
  const kb = keywordIndex(b.value);
  if (ka === KEYWORDS.length && kb === KEYWORDS.length) return compareStrings(a.value, b.value);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function pad(other: MavenToken): MavenToken {
  return other.prefix === '.' ? { prefix: '.', value: '0', numeric: true } : { prefix: '-', value: '', numeric: false };
}

export function compareMavenTokens(a: MavenToken[], b: MavenToken[]): Cmp {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ta = a[i];
    const tb = b[i];
    const c = tokenCmp(ta ?? pad(tb!), ta === undefined, tb ?? pad(ta!), tb === undefined);
    if (c !== 0) return c;
  }
  return 0;
}

export const maven = defineOrdering<MavenToken[]>({
  name: 'maven',
  parse: parseMaven,
  compareParsed: compareMavenTokens,
  isValid: (v) => v.length > 0 && !/\s/.test(v),
});

/** The normalized form OSV prints for a Maven version (tokens with their prefixes). */
export function canonicalMaven(raw: string): string {
  return parseMaven(raw)
    .map((t) => t.prefix + t.value)
    .join('');
}
