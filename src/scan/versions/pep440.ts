/**
 * Python (PyPI) version ordering per PEP 440, mirroring `packaging.version.Version`:
 * `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the normalizations PEP 440 allows
 * on input (case, `alpha`/`beta`/`c`/`pre`/`preview` spellings, `-`/`_`/`.` separators,
 * implicit numbers, `1.0-1` as a post-release, a leading `v`, surrounding whitespace).
 *
 * Sort key, as packaging builds it: epoch; release without trailing zeros; pre-release
 * (a dev-only release sorts before any pre-release of the same version, a final release
 * after all of them); post-release (none first); dev (none last); local version (none
 * first; segments compare numerically when numeric, numeric above alphanumeric).
 * Strings that are not PEP 440 sort before every valid version, as pip once ordered
 * legacy versions.
 */

import { type Cmp, type Parsed, compareDigits, compareParsedOrInvalid, compareStrings, defineOrdering, stripZeros } from './ordering.js';

export interface Pep440 {
  epoch: string;
  release: string[];
  pre: { letter: 'a' | 'b' | 'rc'; n: string } | undefined;
  post: string | undefined;
  dev: string | undefined;
  local: string[] | undefined;
}

// packaging's VERSION_PATTERN, matched case-insensitively against the trimmed string.
const PATTERN = new RegExp(
  '^v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?' +
    '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$',
  'i',
);

function preLetter(l: string): 'a' | 'b' | 'rc' {
  const s = l.toLowerCase();
  if (s === 'a' || s === 'alpha') return 'a';
  if (s === 'b' || s === 'beta') return 'b';
  return 'rc'; // c, rc, pre, preview
}

export function parsePep440(raw: string): Parsed<Pep440> {
  const m = PATTERN.exec(raw.trim());
  if (!m?.groups) return { ok: false, raw };
  const g = m.groups;
  return {
    ok: true,
    value: {
      epoch: stripZeros(g.epoch ?? '0'),
      release: g.release!.split('.').map(stripZeros),
      pre: g.pre_l ? { letter: preLetter(g.pre_l), n: stripZeros(g.pre_n ?? '0') } : undefined,
      post: g.post ? stripZeros(g.post_n1 ?? g.post_n2 ?? '0') : undefined,
      dev: g.dev ? stripZeros(g.dev_n ?? '0') : undefined,
      local: g.local
        ? g.local
            .toLowerCase()
            .split(/[-_.]/)
            .map((s) => (/^[0-9]+$/.test(s) ? stripZeros(s) : s))
        : undefined,
    },
  };
}

/** The normalized string form PEP 440 defines (what `str(Version(v))` prints). */
export function normalizePep440(raw: string): string | undefined {
  const p = parsePep440(raw);
  if (!p.ok) return undefined;
  const v = p.value;
  let s = v.epoch !== '0' ? `${v.epoch}!` : '';
  s += v.release.join('.');
  if (v.pre) s += `${v.pre.letter}${v.pre.n}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

function trimmedRelease(r: string[]): string[] {
  let n = r.length;
  while (n > 1 && r[n - 1] === '0') n--;
  return r.slice(0, n);
}

// Pre-release rank: -1 for "dev only" (before all pre-releases), 3 for a final release.
const LETTER_RANK = { a: 0, b: 1, rc: 2 } as const;

function comparePre(a: Pep440, b: Pep440): Cmp {
  const rank = (v: Pep440) => (v.pre ? LETTER_RANK[v.pre.letter] : v.post === undefined && v.dev !== undefined ? -1 : 3);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  return a.pre && b.pre ? compareDigits(a.pre.n, b.pre.n) : 0;
}

function compareOptional(a: string | undefined, b: string | undefined, absentFirst: boolean): Cmp {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    return (a === undefined) === absentFirst ? -1 : 1;
  }
  return compareDigits(a, b);
}

function compareLocal(a: string[] | undefined, b: string[] | undefined): Cmp {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xn = /^[0-9]+$/.test(x);
    const yn = /^[0-9]+$/.test(y);
    const c = xn && yn ? compareDigits(x, y) : xn ? 1 : yn ? -1 : compareStrings(x, y);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function comparePep440(a: Pep440, b: Pep440): Cmp {
  const e = compareDigits(a.epoch, b.epoch);
  if (e !== 0) return e;
  const ra = trimmedRelease(a.release);
  const rb = trimmedRelease(b.release);
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const c = compareDigits(ra[i] ?? '0', rb[i] ?? '0');
    if (c !== 0) return c;
  }
  return comparePre(a, b) || compareOptional(a.post, b.post, true) || compareOptional(a.dev, b.dev, false) || compareLocal(a.local, b.local);
}

export const pep440 = defineOrdering<Parsed<Pep440>>({
  name: 'pep440',
  parse: parsePep440,
  compareParsed: (a, b) => compareParsedOrInvalid(a, b, comparePep440),
  isValid: (v) => parsePep440(v).ok,
});
