/**
 * Packagist (Composer/PHP) version ordering: PHP's `version_compare` from
 * ext/standard/versioning.c, which OSV.dev uses for Packagist ranges.
 *
 * The string is canonicalized (`-`, `_`, `+` and other non-alphanumerics become `.`, and a
 * `.` is inserted at every digit/non-digit boundary), then compared part by part: numbers
 * numerically, words by their special form (prefix match, in this order: any other word <
 * dev < alpha = a < beta = b < RC = rc < # (a number) < pl = p). When one side has more
 * parts, a remaining number makes it greater, otherwise the rest compares against `#`.
 *
 * Composer strips a leading `v` before comparing; so do we (PHP itself would not).
 */

import { type Cmp, compareDigits, defineOrdering, isDigitCode } from './ordering.js';

function isAlnumCode(c: number): boolean {
  return isDigitCode(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** php_canonicalize_version (PHP 5.3+). */
export function canonicalizePhp(version: string): string {
  if (version === '') return '';
  const isDig = (c: number) => isDigitCode(c);
  const isNdig = (c: number) => !isDigitCode(c) && c !== 46;
  let out = version[0]!;
  let lp = version.charCodeAt(0);
  for (let k = 1; k < version.length; k++) {
    const c = version.charCodeAt(k);
    const lq = out.charCodeAt(out.length - 1);
    if (c === 45 || c === 95 || c === 43) {
      if (lq !== 46) out += '.';
    } else if ((isNdig(lp) && isDig(c)) || (isDig(lp) && isNdig(c))) {
      if (lq !== 46) out += '.';
      out += version[k];
    } else if (!isAlnumCode(c)) {
      if (lq !== 46) out += '.';
    } else {
      out += version[k];
    }
    lp = c;
  }
  return out;
}

const SPECIAL_FORMS: Array<[string, number]> = [
  ['dev', 0],
  ['alpha', 1],
  ['a', 1],
  ['beta', 2],
  ['b', 2],
  ['RC', 3],
  ['rc', 3],
  ['#', 4],
  ['pl', 5],
  ['p', 5],
];

function specialOrder(form: string): number {
  for (const [name, order] of SPECIAL_FORMS) if (form.startsWith(name)) return order;
  return -1;
}

function compareSpecial(a: string, b: string): Cmp {
  const d = specialOrder(a) - specialOrder(b);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

function leadingDigits(s: string): string {
  let k = 0;
  while (k < s.length && isDigitCode(s.charCodeAt(k))) k++;
  return k === 0 ? '0' : s.slice(0, k);
}

/** php_version_compare, walking the canonical strings the way the C code walks pointers. */
function comparePhp(v1: string, v2: string): Cmp {
  if (v1 === '' || v2 === '') return v1 === v2 ? 0 : v1 !== '' ? 1 : -1;
  const s1 = v1.startsWith('#') ? v1 : canonicalizePhp(v1);
  const s2 = v2.startsWith('#') ? v2 : canonicalizePhp(v2);
  let p1 = 0;
  let p2 = 0;
  // Positions of the '.' ending the current part; -1 once a side has no more dots. They
  // start "non-null" as in the C code.
  let n1 = 0;
  let n2 = 0;
  let compare: Cmp = 0;
  while (p1 < s1.length && p2 < s2.length && n1 >= 0 && n2 >= 0) {
    n1 = s1.indexOf('.', p1);
    n2 = s2.indexOf('.', p2);
    const e1 = s1.slice(p1, n1 < 0 ? s1.length : n1);
    const e2 = s2.slice(p2, n2 < 0 ? s2.length : n2);
    const d1 = isDigitCode(e1.charCodeAt(0));
    const d2 = isDigitCode(e2.charCodeAt(0));
    if (d1 && d2) compare = compareDigits(leadingDigits(e1), leadingDigits(e2));
    else if (!d1 && !d2) compare = compareSpecial(e1, e2);
    else compare = d1 ? compareSpecial('#N#', e2) : compareSpecial(e1, '#N#');
    if (compare !== 0) return compare;
    if (n1 >= 0) p1 = n1 + 1;
    if (n2 >= 0) p2 = n2 + 1;
  }
  if (n1 >= 0) return isDigitCode(s1.charCodeAt(p1)) ? 1 : comparePhp(s1.slice(p1), '#N#');
  if (n2 >= 0) return isDigitCode(s2.charCodeAt(p2)) ? -1 : comparePhp('#N#', s2.slice(p2));
  return 0;
}

function stripV(v: string): string {
  const t = v.trim();
  return /^[vV][0-9]/.test(t) ? t.slice(1) : t;
}

export const packagist = defineOrdering<string>({
  name: 'packagist',
  parse: stripV,
  compareParsed: comparePhp,
  // `[0-9]+(?:[._+-]?[A-Za-z0-9]+)*` as Composer writes it splits a run of digits and letters
  // among its groups in exponentially many ways (40 characters and a `!` never end in V8);
  // this is the same language with each group begun by its separator.
  isValid: (v) => /^[vV]?[0-9][A-Za-z0-9]*(?:[._+-][A-Za-z0-9]+)*$/.test(v.trim()),
});
