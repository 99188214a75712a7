/**
 * IAM's condition operators: which names exist, which values each accepts, and how each is
 * evaluated. One catalogue serves both the policy parser (which refuses what is not here) and
 * the evaluator, so an operator is never accepted without being evaluated.
 */
import { isIP } from 'node:net';
import { globMatch, globMatchParts } from './glob.js';
import { joinParts, type Part } from './variables.js';

/**
 * A condition value as the policy writes it, or with its policy variables resolved (variables.ts),
 * or null for one whose variable has no value, which nothing matches.
 */
export type PolicyValue = string | readonly Part[] | null;

type ValueType = 'string' | 'arn' | 'numeric' | 'date' | 'bool' | 'ip' | 'null' | 'binary';

interface BaseOperator {
  type: ValueType;
  /** True for the `Not` forms: the condition holds when no policy value matches. */
  negated: boolean;
  /** Whether `(policyValue, contextValue)` match, for the positive form. */
  test: (policy: string, actual: string) => boolean;
}

const num = (s: string) => (NUMBER_RE.test(s.trim()) ? Number(s) : NaN);
const numeric = (cmp: (actual: number, policy: number) => boolean) => (p: string, a: string) => {
  const [x, y] = [num(a), num(p)];
  return !Number.isNaN(x) && !Number.isNaN(y) && cmp(x, y);
};
const date = (cmp: (actual: number, policy: number) => boolean) => (p: string, a: string) => {
  const [x, y] = [dateMillis(a), dateMillis(p)];
  return !Number.isNaN(x) && !Number.isNaN(y) && cmp(x, y);
};
const strEq = (p: string, a: string) => p === a;
const strEqIc = (p: string, a: string) => p.toLowerCase() === a.toLowerCase();
const like = (p: string, a: string) => globMatch(p, a);
const eq = (x: number, y: number) => x === y;

const BASE: Record<string, BaseOperator> = {
  StringEquals: { type: 'string', negated: false, test: strEq },
  StringNotEquals: { type: 'string', negated: true, test: strEq },
  StringEqualsIgnoreCase: { type: 'string', negated: false, test: strEqIc },
  StringNotEqualsIgnoreCase: { type: 'string', negated: true, test: strEqIc },
  StringLike: { type: 'string', negated: false, test: like },
  StringNotLike: { type: 'string', negated: true, test: like },
  // IAM matches ARNs segment by segment, wildcards allowed in each, for Equals and Like alike.
  ArnEquals: { type: 'arn', negated: false, test: arnMatch },
  ArnNotEquals: { type: 'arn', negated: true, test: arnMatch },
  ArnLike: { type: 'arn', negated: false, test: arnMatch },
  ArnNotLike: { type: 'arn', negated: true, test: arnMatch },
  NumericEquals: { type: 'numeric', negated: false, test: numeric(eq) },
  NumericNotEquals: { type: 'numeric', negated: true, test: numeric(eq) },
  NumericLessThan: { type: 'numeric', negated: false, test: numeric((a, p) => a < p) },
  NumericLessThanEquals: { type: 'numeric', negated: false, test: numeric((a, p) => a <= p) },
  NumericGreaterThan: { type: 'numeric', negated: false, test: numeric((a, p) => a > p) },
  NumericGreaterThanEquals: { type: 'numeric', negated: false, test: numeric((a, p) => a >= p) },
  DateEquals: { type: 'date', negated: false, test: date(eq) },
  DateNotEquals: { type: 'date', negated: true, test: date(eq) },
  DateLessThan: { type: 'date', negated: false, test: date((a, p) => a < p) },
  DateLessThanEquals: { type: 'date', negated: false, test: date((a, p) => a <= p) },
  DateGreaterThan: { type: 'date', negated: false, test: date((a, p) => a > p) },
  DateGreaterThanEquals: { type: 'date', negated: false, test: date((a, p) => a >= p) },
  Bool: { type: 'bool', negated: false, test: strEqIc },
  IpAddress: { type: 'ip', negated: false, test: cidrContains },
  NotIpAddress: { type: 'ip', negated: true, test: cidrContains },
  // Binary context values are carried base64-encoded, as policies write them.
  BinaryEquals: { type: 'binary', negated: false, test: (p, a) => Buffer.from(p, 'base64').equals(Buffer.from(a, 'base64')) },
  Null: { type: 'null', negated: false, test: strEqIc },
};

export interface ConditionOperator {
  base: BaseOperator;
  name: string;
  qualifier?: 'any' | 'all';
  ifExists: boolean;
}

/** `[ForAnyValue:|ForAllValues:]<operator>[IfExists]`, or undefined when IAM has no such operator. */
export function parseOperator(name: string): ConditionOperator | undefined {
  let op = name;
  let qualifier: 'any' | 'all' | undefined;
  if (op.startsWith('ForAnyValue:')) [qualifier, op] = ['any', op.slice(12)];
  else if (op.startsWith('ForAllValues:')) [qualifier, op] = ['all', op.slice(13)];
  let ifExists = false;
  if (op.endsWith('IfExists') && op !== 'IfExists') [ifExists, op] = [true, op.slice(0, -8)];
  const base = Object.hasOwn(BASE, op) ? BASE[op] : undefined;
  if (base === undefined || (ifExists && base.type === 'null')) return undefined;
  return { base, name: op, ifExists, ...(qualifier && { qualifier }) };
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why a policy value is not one this operator can compare, or undefined when it is fine. */
export function invalidValue(op: ConditionOperator, value: string): string | undefined {
  switch (op.base.type) {
    case 'numeric':
      return NUMBER_RE.test(value) ? undefined : `${op.name} needs a number, not '${value}'`;
    case 'date':
      return Number.isNaN(dateMillis(value)) ? `${op.name} needs an ISO 8601 date or epoch seconds, not '${value}'` : undefined;
    case 'bool':
    case 'null':
      return /^(?:true|false)$/i.test(value) ? undefined : `${op.name} needs true or false, not '${value}'`;
    case 'ip':
      return parseCidr(value) ? undefined : `${op.name} needs an IPv4 or IPv6 address or CIDR block, not '${value}'`;
    case 'binary':
      return value.length > 0 && BASE64_RE.test(value) ? undefined : `${op.name} needs a base64 value, not '${value}'`;
    default:
      return undefined;
  }
}

/** Milliseconds since the epoch of an ISO 8601 date or an epoch-seconds number; NaN otherwise. */
function dateMillis(s: string): number {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (!ISO_DATE_RE.test(s)) return NaN;
  // A date and time without an offset is UTC, as IAM reads it; Date.parse would take it as the
  // server's local time, moving a Deny's window by the host's time zone.
  return Date.parse(s.includes('T') && !/(?:Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s);
}

/**
 * One condition against the request context. Values of one key are OR'ed. A missing key makes
 * a positive operator false and a negated one true; `...IfExists` makes any operator true when
 * the key is missing; `ForAllValues:` holds for a missing key, `ForAnyValue:` does not.
 *
 * A key with several values under an operator without a set operator (which AWS says such keys
 * "require", documenting no result without one) is read as `unqualified` says: 'all' (every
 * value must satisfy) for an Allow, 'any' for a Deny, so either way the statement fails closed.
 */
export function operatorHolds(
  op: ConditionOperator,
  values: readonly PolicyValue[],
  actual: string[] | undefined,
  unqualified: 'any' | 'all' = 'any',
): boolean {
  if (op.base.type === 'null') {
    return values.some((v) => (typeof v === 'string' && v.toLowerCase() === 'true') === (actual === undefined || actual.length === 0));
  }
  if (actual === undefined || actual.length === 0) {
    if (op.ifExists || op.qualifier === 'all') return true;
    return op.qualifier === undefined && op.base.negated;
  }
  const { negated } = op.base;
  const test = (v: PolicyValue, a: string) => (v === null ? false : typeof v === 'string' ? op.base.test(v, a) : testParts(op, v, a));
  const one = (a: string) => (negated ? !values.some((v) => test(v, a)) : values.some((v) => test(v, a)));
  return (op.qualifier ?? unqualified) === 'all' ? actual.every(one) : actual.some(one);
}

/**
 * A value with substituted variables: wildcard operators match it as a glob whose substituted
 * parts are literal (an ARN as a whole, not segment by segment); the others compare its text.
 */
function testParts(op: ConditionOperator, parts: readonly Part[], actual: string): boolean {
  // An ARN operator's value of fewer than six segments matches no ARN, as in arnMatch.
  if (op.base.type === 'arn' && (joinParts(parts).split(':').length < 6 || actual.split(':').length < 6)) return false;
  if (op.base.test === like || op.base.type === 'arn') return globMatchParts(parts, actual);
  return op.base.test(joinParts(parts), actual);
}

function arnMatch(pattern: string, arn: string): boolean {
  const split = (s: string) => {
    const parts = s.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const [p, a] = [split(pattern), split(arn)];
  // A pattern of fewer than six segments has no segment for the rest to be checked against: it
  // matches no ARN (as a whole-string glob, `arn:aws:iam::*` matched every IAM ARN, so an
  // ArnNotLike Deny written with it denied nobody).
  if (!p || !a) return pattern === '*';
  return p.every((seg, i) => globMatch(seg, a[i]!));
}

function parseCidr(cidr: string): { family: 4 | 6; net: bigint; bits: number } | undefined {
  const [addr, bitsText, extra] = cidr.split('/');
  if (extra !== undefined || addr === undefined) return undefined;
  const family = isIP(addr);
  if (family !== 4 && family !== 6) return undefined;
  const width = family === 4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (bits > width) return undefined;
  return { family, net: toBig(addr, family), bits };
}

function toBig(addr: string, family: 4 | 6): bigint {
  return family === 4
    ? addr.split('.').reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n)
    : expandV6(addr).reduce((acc, h) => (acc << 16n) + BigInt(parseInt(h, 16)), 0n);
}

function cidrContains(cidr: string, address: string): boolean {
  const c = parseCidr(cidr);
  if (!c) return false;
  const within = (n: bigint) => {
    const shift = BigInt((c.family === 4 ? 32 : 128) - c.bits);
    return c.net >> shift === n >> shift;
  };
  // An IPv4 client, which a dual-stack listener (host '::') sees as ::ffff:a.b.c.d, is in IPv4
  // blocks and in IPv4-mapped ones (inside ::ffff:0:0/96), the same on either listener; not in
  // the rest of IPv6 (before, ::/0 held the dual-stack listener's IPv4 clients).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? mapped[1]! : isIP(address) === 4 ? address : undefined;
  if (v4 !== undefined) {
    if (c.family === 4) return within(toBig(v4, 4));
    return c.bits >= 96 && c.net >> 32n === 0xffffn && within((0xffffn << 32n) | toBig(v4, 4));
  }
  return c.family === 6 && isIP(address) === 6 && within(toBig(address, 6));
}

function expandV6(addr: string): string[] {
  // An IPv4-mapped tail (::ffff:1.2.3.4) is two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  let text = addr;
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = addr.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}
