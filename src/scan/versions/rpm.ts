/**
 * RPM version ordering (Red Hat, AlmaLinux, Rocky Linux, SUSE/openSUSE, Fedora ...):
 * `[epoch:]version[-release]`, each part compared with rpm's `rpmvercmp`.
 *
 * rpmvercmp walks both strings in segments: runs of ASCII letters or digits, everything
 * else being a separator (so non-ASCII letters compare equal, as in rpm). Digit segments
 * compare numerically and beat letter segments; `~` sorts before anything, even the end of
 * the string (pre-releases); `^` sorts after the end of the string but before any other
 * segment (post-release snapshots).
 *
 * The epoch is the leading run of digits before a `:`, as rpm's parser reads it; it compares
 * with rpmvercmp too (absent means "0"). A release compares only when both have one; when
 * only one side has a release it is the greater, the convention OSV's Red Hat tooling uses
 * so that "fixed in 1.2-3" is not met by a bare "1.2".
 */

import { type Cmp, compareDigits, defineOrdering, isAlphaCode, isDigitCode } from './ordering.js';

function isAlnum(c: number): boolean {
  return isDigitCode(c) || isAlphaCode(c);
}

/** rpm's rpmvercmp, returning -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): Cmp {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const ca = (k: number) => (k < a.length ? a.charCodeAt(k) : 0);
  const cb = (k: number) => (k < b.length ? b.charCodeAt(k) : 0);
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(ca(i)) && ca(i) !== 126 && ca(i) !== 94) i++;
    while (j < b.length && !isAlnum(cb(j)) && cb(j) !== 126 && cb(j) !== 94) j++;

    // '~' sorts before everything else, including the end of the string.
    if (ca(i) === 126 || cb(j) === 126) {
      if (ca(i) !== 126) return 1;
      if (cb(j) !== 126) return -1;
      i++;
      j++;
      continue;
    }
    // '^' sorts after the end of the string but before anything else.
    if (ca(i) === 94 || cb(j) === 94) {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (ca(i) !== 94) return 1;
      if (cb(j) !== 94) return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;

    const si = i;
    const sj = j;
    const isNum = isDigitCode(ca(i));
    if (isNum) {
      while (i < a.length && isDigitCode(ca(i))) i++;
      while (j < b.length && isDigitCode(cb(j))) j++;
    } else {
      while (i < a.length && isAlphaCode(ca(i))) i++;
      while (j < b.length && isAlphaCode(cb(j))) j++;
    }
    // Segments of different kinds: the numeric one is newer.
    if (sj === j) return isNum ? 1 : -1;
    const sa = a.slice(si, i);
    const sb = b.slice(sj, j);
    const rc = isNum ? compareDigits(sa, sb) : sa < sb ? -1 : sa > sb ? 1 : 0;
    if (rc !== 0) return rc;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export interface Evr {
  epoch: string | undefined;
  version: string;
  release: string | undefined;
}

export function parseEvr(raw: string): Evr {
  const v = raw.trim();
  let k = 0;
  while (k < v.length && isDigitCode(v.charCodeAt(k))) k++;
  let epoch: string | undefined;
  let rest = v;
  if (v.charCodeAt(k) === 58 /* : */) {
    epoch = k === 0 ? '0' : v.slice(0, k);
    rest = v.slice(k + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

export function compareEvr(a: Evr, b: Evr): Cmp {
  const e = rpmvercmp(a.epoch ?? '0', b.epoch ?? '0');
  if (e !== 0) return e;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  if (a.release === undefined || b.release === undefined) {
    if (a.release === b.release) return 0;
    return a.release === undefined ? -1 : 1;
  }
  return rpmvercmp(a.release, b.release);
}

// rpm allows letters, digits and ._+~^ in version and release; '-' only separates them.
const PART = /^[A-Za-z0-9._+~^]+$/;

export function isValidEvr(raw: string): boolean {
  const v = raw.trim();
  if (v === '' || /\s/.test(v)) return false;
  const colon = v.indexOf(':');
  if (colon >= 0 && !/^[0-9]+$/.test(v.slice(0, colon))) return false;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const parts = rest.split('-');
  if (parts.length > 2) return false;
  return parts.every((p) => PART.test(p));
}

export const rpm = defineOrdering<Evr>({
  name: 'rpm',
  parse: parseEvr,
  compareParsed: compareEvr,
  isValid: isValidEvr,
});
