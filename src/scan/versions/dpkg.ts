/**
 * Debian/Ubuntu version ordering, as deb-version(7) describes and dpkg's `verrevcmp`
 * implements: `[epoch:]upstream[-revision]`, compared epoch first (numerically), then
 * upstream, then revision, each by alternating non-digit and digit runs. In non-digit runs
 * `~` sorts before everything (even the end of the string), letters before non-letters;
 * digit runs compare numerically.
 *
 * `compare` is lenient the way `dpkg --compare-versions` is: it compares anything, so a
 * malformed version in an advisory still has a place. `isValid` applies dpkg's parse checks.
 */

import { type Cmp, compareDigits, defineOrdering, isAlphaCode, isDigitCode, sign } from './ordering.js';

export interface DebVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

/** A component split into alternating [non-digit run, digit run without leading zeros, ...]. */
type Runs = string[];

interface ParsedDeb {
  /** The epoch without leading zeros ("" is 0); a non-numeric epoch counts as 0. */
  epoch: string;
  upstream: Runs;
  revision: Runs;
}

export function splitDeb(raw: string): DebVersion {
  const v = raw.trim();
  const colon = v.indexOf(':');
  let epoch = '0';
  let rest = v;
  if (colon >= 0) {
    epoch = v.slice(0, colon);
    rest = v.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

function runs(s: string): Runs {
  const out: Runs = [];
  let i = 0;
  while (i < s.length) {
    const a = i;
    while (i < s.length && !isDigitCode(s.charCodeAt(i))) i++;
    out.push(s.slice(a, i));
    while (i < s.length && s.charCodeAt(i) === 48) i++;
    const b = i;
    while (i < s.length && isDigitCode(s.charCodeAt(i))) i++;
    out.push(s.slice(b, i));
  }
  return out;
}

export function parseDeb(raw: string): ParsedDeb {
  const p = splitDeb(raw);
  // A non-numeric epoch is invalid and dpkg refuses it; give it a fixed place (0) rather than guess.
  const epoch = /^[0-9]+$/.test(p.epoch) ? p.epoch.replace(/^0+/, '') : '';
  return { epoch, upstream: runs(p.upstream), revision: runs(p.revision) };
}

// dpkg's order(): digits 0 (never reached in the non-digit loop), letters their code,
// '~' -1 (before the end of string, which is 0), anything else code + 256.
function order(c: number): number {
  if (c === 0 || isDigitCode(c)) return 0;
  if (isAlphaCode(c)) return c;
  if (c === 126) return -1;
  return c + 256;
}

/** dpkg's verrevcmp over one component (upstream or revision). */
export function verrevcmp(a: string, b: string): Cmp {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s.charCodeAt(k) : 0);
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigitCode(at(a, i))) || (j < b.length && !isDigitCode(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return sign(ac - bc);
      i++;
      j++;
    }
    const si = i;
    const sj = j;
    while (i < a.length && isDigitCode(at(a, i))) i++;
    while (j < b.length && isDigitCode(at(b, j))) j++;
    const c = compareDigits(si === i ? '0' : a.slice(si, i), sj === j ? '0' : b.slice(sj, j));
    if (c !== 0) return c;
  }
  return 0;
}

function compareNonDigit(a: string, b: string): Cmp {
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const d = order(k < a.length ? a.charCodeAt(k) : 0) - order(k < b.length ? b.charCodeAt(k) : 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Digit runs already stripped of leading zeros: longer is larger, then character order. */
function compareStripped(a: string, b: string): Cmp {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// The same comparison as verrevcmp, over runs split once at parse time.
function compareRuns(a: Runs, b: Runs): Cmp {
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k += 2) {
    const c = compareNonDigit(a[k] ?? '', b[k] ?? '') || compareStripped(a[k + 1] ?? '', b[k + 1] ?? '');
    if (c !== 0) return c;
  }
  return 0;
}

export function compareDebParsed(a: ParsedDeb, b: ParsedDeb): Cmp {
  return compareStripped(a.epoch, b.epoch) || compareRuns(a.upstream, b.upstream) || compareRuns(a.revision, b.revision);
}

const UPSTREAM_CHARS = /^[A-Za-z0-9.+~:-]*$/;
const REVISION_CHARS = /^[A-Za-z0-9.+~]*$/;
const INT_MAX = '2147483647';

export function isValidDeb(raw: string): boolean {
  const v = raw.trim();
  if (v === '' || /\s/.test(v)) return false;
  const p = splitDeb(v);
  if (v.includes(':')) {
    if (!/^[0-9]+$/.test(p.epoch) || compareDigits(p.epoch, INT_MAX) > 0) return false;
  }
  if (p.upstream === '' || !isDigitCode(p.upstream.charCodeAt(0))) return false;
  return UPSTREAM_CHARS.test(p.upstream) && REVISION_CHARS.test(p.revision);
}

export const dpkg = defineOrdering<ParsedDeb>({
  name: 'dpkg',
  parse: parseDeb,
  compareParsed: compareDebParsed,
  isValid: isValidDeb,
});
