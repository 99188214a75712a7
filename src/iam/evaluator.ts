/**
 * Whether a principal may perform an action on a resource, by IAM's rules: an explicit Deny in
 * any applicable policy wins; within one account an Allow in the identity policies suffices, and
 * so does a resource-policy Allow that names the caller itself (its ARN) or "*"; across accounts
 * both the caller's identity policies and a resource policy must allow; the account root may do
 * anything its own account's policies do not deny; an anonymous caller only what a resource
 * policy grants to "*".
 *
 * A resource policy naming an account (its root ARN or bare id) delegates to that account: it
 * lets the account's own identity policies decide, and grants nothing by itself. So within one
 * account it adds nothing, and across accounts the other account's root (whose identity is
 * all-allowing) and those of its users its identity policies allow get in.
 *
 * An assumed role's session is judged by the role's policies, bounded by its session policies
 * (an action needs an Allow in both; a Deny in either wins); resource policies and trust
 * policies naming the role's ARN name its sessions, but what they grant that way (or to "*") is
 * bounded by the session policies too; only a grant naming the session's own ARN is not. A trust
 * policy is a resource policy that must itself apply (`resourcePolicyRequired`): naming the
 * caller grants, naming its account leaves it to the caller's identity policies. A 'federated'
 * caller (a web identity) is named only as `federated:<provider ARN>` or "*".
 *
 * A permissions boundary (a user's or a role's, so also its sessions') caps the identity policies
 * the same way: an identity Allow counts only if the boundary allows too, and a Deny in it denies.
 * Within one account, a resource policy naming the user's or the session's own ARN is not capped
 * by it; one naming the role's ARN is (IAM's permissions boundaries page), and so, failing closed
 * where AWS does not say, is one granting "*". A resource policy's Deny with NotPrincipal denies a
 * caller with a boundary whatever it names (AWS documents this), and excepts only the principals
 * it names themselves, not an account's users or a role's sessions (exceptedBy).
 */
import { operatorHolds, parseOperator, type PolicyValue } from './conditions.js';
import type { Denial } from './denial.js';
import { globMatchParts } from './glob.js';
import { globMatch, type Condition, type Policy, type Statement } from './policy.js';
import { boundMayName } from './principal-bindings.js';
import { hasVariable, resolveVariables, type Part } from './variables.js';

export interface Caller {
  arn: string;
  accountId: string;
  kind: 'root' | 'user' | 'role' | 'anonymous' | 'federated';
  /** aws:PrincipalArn when not `arn` (a role session's is the role's ARN), also a name the caller answers to. */
  principalArn?: string;
  /** aws:PrincipalTag/<key>. */
  principalTags?: Record<string, string>;
  /** Bound the identity policies: an Allow must also be in these (an inline session policy). */
  sessionPolicies?: Policy[];
  /** The unique id of the IAM user, or of the role of a session, that a policy's bound principal ARN must be (Policy.principalIds). */
  principalId?: string;
}

export interface AuthzRequest {
  caller: Caller;
  identityPolicies: Policy[];
  /** The permissions boundary of the user or role (of a session: its role's); none when undefined. */
  permissionsBoundary?: Policy;
  /** Repository and registry policies that apply to the resource. */
  resourcePolicies: Policy[];
  action: string;
  resource: string;
  resourceAccountId: string;
  /** Condition context (aws:SourceIp, aws:ResourceTag/..., ...); keys case-insensitive. */
  context: Record<string, string | string[] | undefined>;
  /** A trust policy: nothing is allowed unless a resource policy applies to the caller. */
  resourcePolicyRequired?: boolean;
}

/** What an identity brings to a decision: its identity policies and its permissions boundary, if any. */
export interface IdentityPolicies {
  policies: Policy[];
  boundary?: Policy;
}

/** A refusal names the policy type that denied or failed to allow, as AWS's messages do (denial.ts). */
export type Decision = { allowed: true } | ({ allowed: false } & Denial);

/**
 * 'direct': an Allow naming the caller's own ARN (a user's, a role session's); 'grant': one naming
 * "*" or the role a session is of; 'delegate': only Allows naming the caller's account.
 */
type Verdict = 'deny' | 'direct' | 'grant' | 'delegate' | 'none';
type Naming = 'direct' | 'grant' | 'delegate';
const RANK: Record<Verdict, number> = { none: 0, delegate: 1, grant: 2, direct: 3, deny: 4 };

export function evaluate(req: AuthzRequest): Decision {
  // Built when a statement first reads it: most decisions read none (the root's without
  // policies, a managed policy's statements without conditions or variables), and building it
  // took 1.8 % of a manifest GET's main-thread samples (session 34's profile).
  let built: Context | undefined;
  const context = (): Context => (built ??= normalizeContext(req));
  const noIdentity = req.caller.kind === 'anonymous' || req.caller.kind === 'federated';
  let identity: Verdict = noIdentity ? 'none' : verdictOf(req.identityPolicies, req, context, false);
  const resource = verdictOf(req.resourcePolicies, req, context, true);
  const session = req.caller.sessionPolicies === undefined ? undefined : verdictOf(req.caller.sessionPolicies, req, context, false);
  const boundary = req.permissionsBoundary === undefined || noIdentity ? undefined : verdictOf([req.permissionsBoundary], req, context, false);
  if (identity === 'deny') return { allowed: false, explicitDeny: true, policyType: 'identity-based policy' };
  if (resource === 'deny') return { allowed: false, explicitDeny: true, policyType: 'resource-based policy' };
  if (boundary === 'deny') return { allowed: false, explicitDeny: true, policyType: 'permissions boundary' };
  if (session === 'deny') return { allowed: false, explicitDeny: true, policyType: 'session policy' };
  // The root's identity allows everything; only policies (a Deny above) restrict it.
  const identityAllowed = identity !== 'none' || req.caller.kind === 'root';
  // A session policy and a permissions boundary only narrow: what the identity policies allow but
  // either does not is not allowed, and neither is what a resource policy grants the role (or "*")
  // rather than the user or session itself (IAM's "resource-based policies and implicit denies in
  // other policy types", and its permissions boundaries page).
  const bounded = session === 'none' || boundary === 'none';
  if (bounded) identity = 'none';
  if (req.resourcePolicyRequired && resource === 'none') return { allowed: false, explicitDeny: false, policyType: 'resource-based policy' };
  const identityAllows = identity !== 'none' || req.caller.kind === 'root';
  const resourceGrants = resource === 'direct' || (resource === 'grant' && !bounded);
  const sameAccount = req.caller.accountId === req.resourceAccountId;
  if (sameAccount ? identityAllows || resourceGrants : identityAllows && resource !== 'none') return { allowed: true };
  // An anonymous caller has no identity policy: a resource policy granting "*" is enough.
  if (req.caller.kind === 'anonymous' && resourceGrants) return { allowed: true };
  return { allowed: false, explicitDeny: false, policyType: implicitlyDeniedBy(req, identityAllowed, boundary, session, sameAccount) };
}

/** Which policy type failed to allow: the one that narrowed an identity Allow, else the side a decision needed. */
function implicitlyDeniedBy(
  req: AuthzRequest,
  identityAllowed: boolean,
  boundary: Verdict | undefined,
  session: Verdict | undefined,
  sameAccount: boolean,
): Denial['policyType'] {
  if (req.caller.kind === 'anonymous' || req.caller.kind === 'federated') return 'resource-based policy';
  if (!identityAllowed) return 'identity-based policy';
  if (boundary === 'none') return 'permissions boundary';
  if (session === 'none') return 'session policy';
  return sameAccount ? 'identity-based policy' : 'resource-based policy';
}

/** Condition keys (lower-cased) and their values; `multi` holds the multivalued ones, which cannot be policy variables. */
type Context = Map<string, string[]> & { multi?: Set<string> };

function normalizeContext(req: AuthzRequest): Context {
  const out: Context = new Map<string, string[]>();
  out.multi = new Set();
  for (const [k, v] of Object.entries(req.context)) {
    if (v === undefined) continue;
    const key = k.toLowerCase();
    const seen = out.get(key);
    // Keys that differ only in case are one key to a policy (AWS: a condition on tag key `Owner`
    // "matches both Owner and owner"), and a resource or a request may carry both tags: the key
    // then has every value, so an Allow needs them all and a Deny any one, not whichever came last.
    out.set(key, seen === undefined ? (Array.isArray(v) ? v : [v]) : [...seen, ...(Array.isArray(v) ? v : [v])]);
    if (Array.isArray(v) || seen !== undefined) out.multi.add(key);
  }
  const { caller } = req;
  if (caller.kind !== 'anonymous' && caller.kind !== 'federated') {
    out.set('aws:principalarn', [caller.principalArn ?? caller.arn]);
    out.set('aws:principalaccount', [caller.accountId]);
    out.set('aws:principaltype', [caller.kind === 'root' ? 'Account' : caller.kind === 'role' ? 'AssumedRole' : 'User']);
    if (caller.kind === 'user') out.set('aws:username', [caller.arn.slice(caller.arn.lastIndexOf('/') + 1)]);
    for (const [k, v] of Object.entries(caller.principalTags ?? {})) out.set(`aws:principaltag/${k.toLowerCase()}`, [v]);
  }
  return out;
}

function verdictOf(policies: Policy[], req: AuthzRequest, context: () => Context, resourcePolicy: boolean): Verdict {
  let verdict: Verdict = 'none';
  for (const p of policies) {
    if (p.onlyActions && !p.onlyActions.some((a) => a.toLowerCase() === req.action.toLowerCase())) continue;
    for (const s of p.statements) {
      const how = applies(s, req, context, resourcePolicy, p.variables === true, p.principalIds);
      if (how === undefined) continue;
      if (s.effect === 'Deny') return 'deny';
      if (RANK[how] > RANK[verdict]) verdict = how;
    }
  }
  return verdict;
}

/** Whether a statement applies, and how it names the caller (see Verdict). */
function applies(
  s: Statement,
  req: AuthzRequest,
  context: () => Context,
  resourcePolicy: boolean,
  variables: boolean,
  ids: Policy['principalIds'],
): Naming | undefined {
  const actionMatches = (ps: string[]) => ps.some((p) => globMatch(p, req.action, true));
  if (s.actions && !actionMatches(s.actions)) return undefined;
  if (s.notActions && actionMatches(s.notActions)) return undefined;
  const resolve = variables ? valueResolver(context()) : undefined;
  if (!resourceApplies(s, req.resource, resolve)) return undefined;
  let how: Naming = 'grant';
  if (resourcePolicy) {
    if (s.principals) {
      const matches = s.principals.map((p) => principalMatch(p, req.caller, ids, s.effect === 'Deny'));
      const best = (['direct', 'grant', 'delegate'] as const).find((m) => matches.includes(m));
      if (best === undefined) return undefined;
      how = best;
    }
    // IAM supports NotPrincipal only with Deny (refused when a policy is put); an Allow with it in
    // a document stored before grants nothing.
    if (s.notPrincipals && s.effect === 'Allow') return undefined;
    // A Deny with NotPrincipal denies a caller with a permissions boundary whatever it names (IAM).
    const exempt = req.permissionsBoundary === undefined && s.notPrincipals?.some((p) => exceptedBy(p, req.caller, ids, s.effect === 'Allow'));
    if (exempt) return undefined;
  }
  // A condition value whose variable cannot be resolved is null: no operator matches it, so a
  // negated one holds (IAM's "policy variables with no value"). A condition Berth cannot
  // evaluate (only in old stored documents) fails closed.
  const holds = s.conditions.every((c) => {
    const values = resolve === undefined || !VARIABLE_TYPES.has(c.op?.base.type ?? '') ? c.values : c.values.map((v) => resolve(v) ?? null);
    return conditionApplies(c, values, context(), s.effect) ?? s.effect === 'Deny';
  });
  return holds ? how : undefined;
}

/**
 * Whether a NotPrincipal entry excepts the caller: only the principal it names itself. IAM's
 * NotPrincipal page: a Deny excepting Bob's ARN and his account's denies "all principals except
 * the user named Bob", and one excepting a session's, its role's and its account's ARNs all but
 * that session. So an account (root ARN or id) excepts its root, not its users, and a role's ARN
 * not its sessions, where a Principal naming them would reach them.
 */
function exceptedBy(p: string, caller: Caller, ids: Policy['principalIds'], restricts: boolean): boolean {
  if (p === '*') return true;
  const how = principalMatch(p, caller, ids, restricts);
  return how === 'direct' || (how === 'delegate' && caller.kind === 'root');
}

/**
 * Whether a statement's Resource or NotResource covers the resource. An entry whose variable
 * cannot be resolved matches no resource ("any attempt to match it fails", IAM's policy
 * variables page) and, AWS adds, "causes the statement to be invalid": so an Allow holding one
 * does not apply at all, while a Deny is still judged on its other entries (a Deny's NotResource
 * entry that matches nothing excepts nothing). Every entry is read, so the order of a list
 * never decides, and a variable never lifts a Deny.
 */
function resourceApplies(s: Statement, resource: string, resolve: ((text: string) => string | readonly Part[] | undefined) | undefined): boolean {
  let unresolved = false;
  const covers = (patterns: string[]) => {
    let matched = false;
    for (const p of patterns) {
      const v = resolve ? resolve(p) : p;
      if (v === undefined) unresolved = true;
      else if (typeof v === 'string' ? globMatch(v, resource) : globMatchParts(v, resource)) matched = true;
      // Past a match only an Allow's unresolved entry can change the answer.
      if (matched && (resolve === undefined || s.effect === 'Deny')) break;
    }
    return matched;
  };
  // In a resource policy an omitted Resource means the resource the policy is attached to. (A
  // stored document may hold both elements, which the grammar refuses: both must agree.)
  const inResource = s.resources === undefined || covers(s.resources);
  const inNotResource = s.notResources !== undefined && covers(s.notResources);
  if (unresolved && s.effect === 'Allow') return false;
  return inResource && !inNotResource;
}

/** The operator types IAM resolves policy variables in. */
const VARIABLE_TYPES = new Set(['string', 'arn', 'bool']);

/** A policy value with its variables resolved against the request: as is without any, parts with some, undefined when one cannot be. */
function valueResolver(context: Context): (text: string) => string | readonly Part[] | undefined {
  const lookup = (key: string) => (context.multi?.has(key) ? undefined : context.get(key));
  return (text) => (hasVariable(text) ? resolveVariables(text, lookup) : text);
}

/**
 * The caller's exact ARN names it directly; "*" or a session's role ARN name it; an account id or
 * root ARN its account. `restricts`: naming the caller here refuses it (see boundMayName).
 */
function principalMatch(p: string, caller: Caller, ids: Policy['principalIds'], restricts: boolean): Naming | undefined {
  if (p === '*') return 'grant';
  if (caller.kind === 'anonymous') return undefined;
  // An ARN bound to a unique id names only that user or role (IAM: "If someone deletes the role and
  // then recreates it ... the new role's principal ID does not match the ID stored in the trust policy").
  const bound = ids?.[p];
  if (!boundMayName(bound, caller.principalId, restricts)) return undefined;
  if (p === caller.arn) return 'direct';
  if (caller.principalArn !== undefined && p === caller.principalArn) return 'grant';
  // A bound ARN is a user's or role's, never an account's: the account patterns below need not run.
  if (caller.kind === 'federated' || bound !== undefined) return undefined;
  if (/^\d{12}$/.test(p)) return p === caller.accountId ? 'delegate' : undefined;
  const root = /^arn:aws:iam::(\d{12}):root$/.exec(p);
  if (root) return root[1] === caller.accountId ? 'delegate' : undefined;
  return undefined;
}

function conditionApplies(c: Condition, values: PolicyValue[], context: Context, effect: Statement['effect']): boolean | undefined {
  if (c.invalid !== undefined || c.op === undefined) return undefined;
  // A multivalued key without a set operator: whichever reading narrows the statement's effect.
  return operatorHolds(c.op, values, context.get(c.key), effect === 'Allow' ? 'all' : 'any');
}

/** One condition by operator name, for tests and tools; an operator IAM does not have never holds. */
export function conditionHolds(operator: string, key: string, values: string[], context: Map<string, string[]>): boolean {
  const op = parseOperator(operator);
  return op !== undefined && operatorHolds(op, values, context.get(key));
}
