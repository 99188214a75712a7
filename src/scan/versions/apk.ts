/**
 * Alpine (apk-tools) version ordering: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`.
 *
 * A port of apk-tools' current src/version.c tokenizer: each version is read as a sequence
 * of typed tokens (initial digit, digit, letter, suffix, suffix number, commit hash,
 * revision), compared pairwise while the token types agree. Pre-release suffixes (_alpha,
 * _beta, _pre, _rc) sort before the release, post-release ones (_cvs, _svn, _git, _hg, _p)
 * after. A digit run with a leading zero compares as a string, as in Gentoo's rules.
 * Where the types diverge, the version that ended (or turned invalid) is the smaller one,
 * unless the other continues with a pre-release suffix.
 */

import { type Cmp, compareDigits, compareStrings, defineOrdering, isDigitCode } from './ordering.js';

enum T {
  InitialDigit = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  CommitHash = 5,
  RevisionNo = 6,
  End = 7,
  Invalid = 8,
}

// apk's suffix enum: pre-release values are below NONE (5), post-release above.
const SUFFIX: Record<string, number> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

interface Token {
  type: T;
  /** The token's text: digits, a letter, a suffix name or a hash. */
  value: string;
  suffix: number;
}

function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

function isHex(c: number): boolean {
  return isDigitCode(c) || (c >= 97 && c <= 102);
}

/** Splits a version into apk tokens; the list ends with an End or Invalid token. */
export function tokenizeApk(v: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const digits = (): string => {
    const s = i;
    while (i < v.length && isDigitCode(v.charCodeAt(i))) i++;
    return v.slice(s, i);
  };
  let first = digits();
  if (first === '') return [{ type: T.Invalid, value: '', suffix: 0 }];
  let prev: Token = { type: T.InitialDigit, value: first, suffix: 0 };
  out.push(prev);
  for (;;) {
    const tok = nextToken(prev.type);
    out.push(tok);
    if (tok.type >= T.End) return out;
    prev = tok;
  }

  function nextToken(t: T): Token {
    const bad: Token = { type: T.Invalid, value: '', suffix: 0 };
    if (i >= v.length) return { type: T.End, value: '', suffix: 0 };
    const c = v.charCodeAt(i);
    if (isLower(c)) {
      if (t > T.Digit) return bad;
      i++;
      return { type: T.Letter, value: v[i - 1]!, suffix: 0 };
    }
    if (c === 46 /* . */ || isDigitCode(c)) {
      if (c === 46) {
        if (t > T.Digit) return bad;
        i++;
      }
      let type: T;
      if (t === T.InitialDigit || t === T.Digit) type = T.Digit;
      else if (t === T.Suffix) type = T.SuffixNo;
      else return bad;
      first = digits();
      return first === '' ? bad : { type, value: first, suffix: 0 };
    }
    if (c === 95 /* _ */) {
      if (t > T.SuffixNo) return bad;
      i++;
      const s = i;
      while (i < v.length && isLower(v.charCodeAt(i))) i++;
      const name = v.slice(s, i);
      const suffix = SUFFIX[name];
      return suffix === undefined ? bad : { type: T.Suffix, value: name, suffix };
    }
    if (c === 126 /* ~ */) {
      if (t >= T.CommitHash) return bad;
      i++;
      const s = i;
      while (i < v.length && isHex(v.charCodeAt(i))) i++;
      return i === s ? bad : { type: T.CommitHash, value: v.slice(s, i), suffix: 0 };
    }
    if (c === 45 /* - */) {
      if (t >= T.RevisionNo || v.charCodeAt(i + 1) !== 114 /* r */) return bad;
      i += 2;
      first = digits();
      return first === '' ? bad : { type: T.RevisionNo, value: first, suffix: 0 };
    }
    return bad;
  }
}

function tokenCmp(a: Token, b: Token): Cmp {
  switch (a.type) {
    case T.Digit:
      // A leading zero makes the run a string ("1.02" < "1.1"), as Gentoo specifies.
      if (a.value.charCodeAt(0) === 48 || b.value.charCodeAt(0) === 48) return compareStrings(a.value, b.value);
      return compareDigits(a.value, b.value);
    case T.InitialDigit:
    case T.SuffixNo:
    case T.RevisionNo:
      return compareDigits(a.value, b.value);
    case T.Suffix:
      return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
    default:
      return compareStrings(a.value, b.value);
  }
}

export function compareApkTokens(a: Token[], b: Token[]): Cmp {
  let k = 0;
  for (; ; k++) {
    const ta = a[k]!;
    const tb = b[k]!;
    if (ta.type !== tb.type || ta.type >= T.End) {
      if (ta.type === tb.type) return 0;
      if (ta.type === T.Suffix && ta.suffix < SUFFIX_NONE) return -1;
      if (tb.type === T.Suffix && tb.suffix < SUFFIX_NONE) return 1;
      return ta.type > tb.type ? -1 : 1;
    }
    const r = tokenCmp(ta, tb);
    if (r !== 0) return r;
  }
}

export function isValidApk(v: string): boolean {
  const toks = tokenizeApk(v);
  return toks[toks.length - 1]!.type === T.End;
}

export const apk = defineOrdering<Token[]>({
  name: 'apk',
  parse: tokenizeApk,
  compareParsed: compareApkTokens,
  isValid: isValidApk,
});
