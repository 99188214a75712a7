/**
 * Semantic Versioning 2.0.0 precedence (semver.org, section 11), as npm, crates.io, Go
 * modules and OSV `SEMVER` ranges use it: major.minor.patch numerically, a pre-release below
 * its release, pre-release identifiers compared left to right (numeric ones numerically and
 * below alphanumeric ones, which compare in ASCII order; a longer set wins when all
 * preceding identifiers are equal), build metadata ignored.
 *
 * Go spells versions with a leading `v` and marks pre-module major versions with the
 * build tag `+incompatible`; both are accepted and neither affects precedence.
 *
 * `isValid` is the strict semver.org grammar (after an optional `v`). `compare` is lenient
 * the way OSV's own tooling is: missing minor/patch count as 0 ("1.2" = "1.2.0"), leading
 * zeros are read as numbers; anything else that does not parse sorts before every valid
 * version, as Go's x/mod/semver orders invalid strings.
 */

import { type Cmp, type Parsed, compareDigits, compareParsedOrInvalid, compareStrings, defineOrdering } from './ordering.js';

export interface SemVer {
  /** Numeric core components as digit strings; at least three. */
  core: string[];
  /** Pre-release identifiers; empty for a release. */
  pre: string[];
}

const NUM = /^[0-9]+$/;
const IDENT = /^[0-9A-Za-z-]+$/;
const STRICT =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function isValidSemver(v: string): boolean {
  return STRICT.test(v);
}

export function parseSemverLenient(raw: string): Parsed<SemVer> {
  let v = raw.trim();
  if (v.startsWith('v') || v.startsWith('V')) v = v.slice(1);
  const plus = v.indexOf('+');
  if (plus >= 0) {
    const build = v.slice(plus + 1);
    if (!build.split('.').every((id) => IDENT.test(id))) return { ok: false, raw };
    v = v.slice(0, plus);
  }
  const dash = v.indexOf('-');
  const coreText = dash >= 0 ? v.slice(0, dash) : v;
  const core = coreText.split('.');
  if (core.length === 0 || !core.every((c) => NUM.test(c))) return { ok: false, raw };
  while (core.length < 3) core.push('0');
  let pre: string[] = [];
  if (dash >= 0) {
    pre = v.slice(dash + 1).split('.');
    if (!pre.every((id) => IDENT.test(id))) return { ok: false, raw };
  }
  return { ok: true, value: { core, pre } };
}

function compareIdentifiers(a: string, b: string): Cmp {
  const an = NUM.test(a);
  const bn = NUM.test(b);
  if (an && bn) return compareDigits(a, b);
  if (an) return -1;
  if (bn) return 1;
  return compareStrings(a, b);
}

export function compareSemver(a: SemVer, b: SemVer): Cmp {
  const n = Math.max(a.core.length, b.core.length);
  for (let i = 0; i < n; i++) {
    const c = compareDigits(a.core[i] ?? '0', b.core[i] ?? '0');
    if (c !== 0) return c;
  }
  if (a.pre.length === 0 || b.pre.length === 0) {
    if (a.pre.length === b.pre.length) return 0;
    return a.pre.length === 0 ? 1 : -1;
  }
  const m = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < m; i++) {
    const c = compareIdentifiers(a.pre[i]!, b.pre[i]!);
    if (c !== 0) return c;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

export const semver = defineOrdering<Parsed<SemVer>>({
  name: 'semver',
  parse: parseSemverLenient,
  compareParsed: (a, b) => compareParsedOrInvalid(a, b, compareSemver),
  isValid: isValidSemver,
});
