/**
 * The shape every ecosystem's version ordering shares, and the small helpers they reuse.
 *
 * An ordering is total over all strings, valid or not: advisories carry versions that no
 * ecosystem tool would accept, and the matcher must still answer deterministically rather
 * than throw in the middle of re-evaluating ten thousand inventories. `isValid` says whether
 * a string follows the ecosystem's published grammar; `compare` never refuses.
 *
 * `parse` + `compareParsed` let a caller that compares one version many times (the advisory
 * index) pay the parse once.
 */

export type Cmp = -1 | 0 | 1;

export interface VersionOrdering<P = unknown> {
  /** A short stable name ("dpkg", "semver"), used in logs and tests. */
  readonly name: string;
  compare(a: string, b: string): Cmp;
  isValid(v: string): boolean;
  parse(v: string): P;
  compareParsed(a: P, b: P): Cmp;
}

/** Builds an ordering from a parser and a comparator over parsed values. */
export function defineOrdering<P>(def: {
  name: string;
  parse: (v: string) => P;
  compareParsed: (a: P, b: P) => Cmp;
  isValid: (v: string) => boolean;
}): VersionOrdering<P> {
  return {
    name: def.name,
    parse: def.parse,
    compareParsed: def.compareParsed,
    isValid: def.isValid,
    compare: (a, b) => def.compareParsed(def.parse(a), def.parse(b)),
  };
}

export function sign(n: number): Cmp {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Compares plain strings by UTF-16 code unit, which equals byte order for ASCII. */
export function compareStrings(a: string, b: string): Cmp {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two runs of ASCII digits as unbounded non-negative integers. Version components
 * such as `20240101123456789` overflow doubles, and every tool we mirror compares them
 * exactly (dpkg and rpm by length after dropping zeros), so numbers stay strings here.
 */
export function compareDigits(a: string, b: string): Cmp {
  let i = 0;
  let j = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Drops leading zeros so equal numbers have equal strings ("007" -> "7", "000" -> "0"). */
export function stripZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return i === 0 ? digits : digits.slice(i);
}

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAlphaCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Wraps a strict parser into an ordering where unparseable strings sort before every valid
 * version and among themselves by plain string order. Go's x/mod/semver and pip's treatment
 * of legacy versions both put garbage first; doing the same everywhere keeps `compare` total.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; raw: string };

export function compareParsedOrInvalid<T>(a: Parsed<T>, b: Parsed<T>, cmp: (x: T, y: T) => Cmp): Cmp {
  if (a.ok && b.ok) return cmp(a.value, b.value);
  if (a.ok) return 1;
  if (b.ok) return -1;
  return compareStrings(a.raw, b.raw);
}
