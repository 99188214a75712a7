/**
 * Whether a principal may perform an action on a resource, by IAM's rules: an explicit Deny in
 * any applicable policy wins; within one account an Allow in the identity policies or in a
 * resource policy suffices; across accounts both must allow; the account root may do anything
 * in its own account that no policy denies; an anonymous caller only what a resource policy
 * grants to "*".
 */
import { isIP } from 'node:net';
import { globMatch, type Policy, type Statement } from './policy.js';

export interface Caller {
  arn: string;
  accountId: string;
  kind: 'root' | 'user' | 'anonymous';
}

export interface AuthzRequest {
  caller: Caller;
  identityPolicies: Policy[];
  /** Repository and registry policies that apply to the resource. */
  resourcePolicies: Policy[];
  action: string;
  resource: string;
  resourceAccountId: string;
  /** Condition context (aws:SourceIp, aws:ResourceTag/..., ...); keys case-insensitive. */
  context: Record<string, string | string[] | undefined>;
}

export type Decision = { allowed: true } | { allowed: false; explicitDeny: boolean };

type Verdict = 'allow' | 'deny' | 'none';

export function evaluate(req: AuthzRequest): Decision {
  const context = normalizeContext(req);
  const identity = req.caller.kind === 'anonymous' ? 'none' : verdictOf(req.identityPolicies, req, context, false);
  const resource = verdictOf(req.resourcePolicies, req, context, true);
  if (identity === 'deny' || resource === 'deny') return { allowed: false, explicitDeny: true };
  const sameAccount = req.caller.accountId === req.resourceAccountId;
  const identityAllows = identity === 'allow' || (req.caller.kind === 'root' && sameAccount);
  if (sameAccount ? identityAllows || resource === 'allow' : identityAllows && resource === 'allow') return { allowed: true };
  // An anonymous caller has no identity policy: a resource policy granting "*" is enough.
  if (req.caller.kind === 'anonymous' && resource === 'allow') return { allowed: true };
  return { allowed: false, explicitDeny: false };
}

function normalizeContext(req: AuthzRequest): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of Object.entries(req.context)) if (v !== undefined) out.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  if (req.caller.kind !== 'anonymous') {
    out.set('aws:principalarn', [req.caller.arn]);
    out.set('aws:principalaccount', [req.caller.accountId]);
  }
  return out;
}

function verdictOf(policies: Policy[], req: AuthzRequest, context: Map<string, string[]>, resourcePolicy: boolean): Verdict {
  let allowed = false;
  for (const p of policies) {
    for (const s of p.statements) {
      if (!applies(s, req, context, resourcePolicy)) continue;
      if (s.effect === 'Deny') return 'deny';
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'none';
}

function applies(s: Statement, req: AuthzRequest, context: Map<string, string[]>, resourcePolicy: boolean): boolean {
  const actionMatches = (ps: string[]) => ps.some((p) => globMatch(p, req.action, true));
  if (s.actions && !actionMatches(s.actions)) return false;
  if (s.notActions && actionMatches(s.notActions)) return false;
  const resourceMatches = (ps: string[]) => ps.some((p) => globMatch(p, req.resource));
  // In a resource policy an omitted Resource means the resource the policy is attached to.
  if (s.resources && !resourceMatches(s.resources)) return false;
  if (s.notResources && resourceMatches(s.notResources)) return false;
  if (resourcePolicy) {
    if (s.principals && !s.principals.some((p) => principalMatches(p, req.caller))) return false;
    if (s.notPrincipals && s.notPrincipals.some((p) => principalMatches(p, req.caller))) return false;
  }
  return s.conditions.every((c) => conditionHolds(c.operator, c.key, c.values, context));
}

/** "*", an account id, the account root's ARN (any principal of that account) or an exact ARN. */
function principalMatches(p: string, caller: Caller): boolean {
  if (p === '*') return true;
  if (caller.kind === 'anonymous') return false;
  if (/^\d{12}$/.test(p)) return p === caller.accountId;
  const root = /^arn:aws:iam::(\d{12}):root$/.exec(p);
  if (root) return root[1] === caller.accountId;
  return p === caller.arn;
}

/**
 * One condition. Values of one key are OR'ed; a missing key makes a positive operator false and a
 * negated one true, and `...IfExists` makes any operator true when the key is missing.
 */
export function conditionHolds(operator: string, key: string, values: string[], context: Map<string, string[]>): boolean {
  let op = operator;
  let qualifier: 'any' | 'all' | undefined;
  if (op.startsWith('ForAnyValue:')) [qualifier, op] = ['any', op.slice(12)];
  else if (op.startsWith('ForAllValues:')) [qualifier, op] = ['all', op.slice(13)];
  const ifExists = op.endsWith('IfExists');
  if (ifExists) op = op.slice(0, -8);
  const actual = context.get(key);
  if (op === 'Null') return values.some((v) => (v === 'true') === (actual === undefined));
  if (actual === undefined) return ifExists || qualifier === 'all' || op.includes('Not');
  const test = matcherFor(op);
  if (!test) return false;
  const negated = op.includes('Not');
  const one = (a: string) => (negated ? !values.some((v) => test(v, a)) : values.some((v) => test(v, a)));
  return qualifier === 'all' ? actual.every(one) : actual.some(one);
}

function matcherFor(op: string): ((pattern: string, actual: string) => boolean) | undefined {
  switch (op) {
    case 'StringEquals':
    case 'StringNotEquals':
    case 'ArnEquals':
    case 'ArnNotEquals':
      return (p, a) => p === a;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return (p, a) => p.toLowerCase() === a.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
    case 'ArnLike':
    case 'ArnNotLike':
      return (p, a) => globMatch(p, a);
    case 'Bool':
      return (p, a) => p.toLowerCase() === a.toLowerCase();
    case 'IpAddress':
    case 'NotIpAddress':
      return cidrContains;
    default:
      return undefined;
  }
}

function cidrContains(cidr: string, ip: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const family = isIP(net ?? '');
  if (family === 0 || family !== isIP(ip)) return false;
  const toBig = (addr: string) =>
    family === 4
      ? addr.split('.').reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n)
      : expandV6(addr).reduce((acc, h) => (acc << 16n) + BigInt(parseInt(h, 16)), 0n);
  const width = family === 4 ? 32 : 128;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const shift = BigInt(width - bits);
  return toBig(net!) >> shift === toBig(ip) >> shift;
}

function expandV6(addr: string): string[] {
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
}
