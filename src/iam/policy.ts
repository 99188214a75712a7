/**
 * IAM policy documents: parsing with bounds, and IAM's grammar, so that a document Berth could
 * not evaluate is refused when it is put instead of being stored and half-ignored. Pure
 * functions; no I/O.
 */
import { invalidValue, parseOperator, type ConditionOperator } from './conditions.js';

export { globMatch } from './glob.js';

export interface Condition {
  operator: string;
  /** Lower-cased: condition keys are case-insensitive. */
  key: string;
  values: string[];
  /** Undefined only in a leniently parsed stored document whose operator IAM does not have. */
  op?: ConditionOperator;
  /** Why the condition cannot be evaluated (lenient parsing only); evaluation then fails closed. */
  invalid?: string;
}

export interface Statement {
  effect: 'Allow' | 'Deny';
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  /** Principal ARNs, account ids or '*'; undefined in identity policies. */
  principals?: string[];
  notPrincipals?: string[];
  conditions: Condition[];
}

export interface Policy {
  statements: Statement[];
  /** Version 2012-10-17: `${...}` in Resource and condition values are policy variables (variables.ts). */
  variables?: boolean;
  /** When set, the policy governs only these actions (a registry policy under scope V1). */
  onlyActions?: string[];
  /**
   * A trust policy's principal ARNs bound to the unique id of the user or role each named when it
   * was saved: such an ARN names only that user or role, not one made again under the name.
   */
  principalIds?: Record<string, string>;
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export interface ParseOptions {
  kind: 'identity' | 'resource';
  maxLength: number;
  /**
   * For documents already stored, which older versions validated less strictly: grammar they
   * break is tolerated, and a condition that cannot be evaluated makes its statement fail
   * closed (an Allow does not apply, a Deny does) rather than the whole document failing.
   */
  lenient?: boolean;
}

const MAX_STATEMENTS = 100;
const TOP_LEVEL = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const PRINCIPAL_TYPES: Record<string, string> = { AWS: '', Service: 'service:', Federated: 'federated:', CanonicalUser: 'canonical:' };
const ACTION_RE = /^(?:\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/;
const AWS_PRINCIPAL_RE = /^(?:\*|\d{12}|arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:root|(?:user|role|assumed-role|federated-user|group)\/\S+))$/;
// '<service>:<key>', or an OIDC provider's '<issuer host[:port][/path]>:<claim>' (token.actions.githubusercontent.com:sub).
const CONDITION_KEY_RE = /^(?:[A-Za-z0-9-]+:.+|[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/\S*)?:[A-Za-z0-9_.-]+)$/;

function list(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  const xs = Array.isArray(v) ? v : [v];
  if (xs.length === 0 || xs.length > 500 || !xs.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 2048)) {
    throw new PolicyError(`${where} must be a string or a non-empty list of strings`);
  }
  return xs as string[];
}

/** Parses a policy document; `kind` says whether statements name principals (resource policies). */
export function parsePolicy(text: string, opts: ParseOptions): Policy {
  if (text.length > opts.maxLength) throw new PolicyError(`the policy exceeds ${opts.maxLength} characters`);
  // Grammar a stored document may break without losing its meaning to the evaluator.
  const grammar = (ok: boolean, message: string) => {
    if (!ok && !opts.lenient) throw new PolicyError(message);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('the policy is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('the policy must be a JSON object');
  // JSON.parse keeps the last of repeated keys, silently dropping an Effect, a Resource or a
  // whole condition operator; IAM refuses such documents when they are put.
  const repeated = opts.lenient ? undefined : duplicateKey(text);
  grammar(repeated === undefined, `the policy repeats the key '${repeated}' in one object`);
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) grammar(TOP_LEVEL.has(k), `unknown policy element '${k}'`);
  const { Version, Id, Statement } = top;
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') throw new PolicyError('Version must be 2012-10-17 or 2008-10-17');
  grammar(Id === undefined || typeof Id === 'string', 'Id must be a string');
  if (Statement === undefined) throw new PolicyError('the policy has no Statement');
  const raw = Array.isArray(Statement) ? Statement : [Statement];
  if (raw.length === 0 || raw.length > MAX_STATEMENTS) throw new PolicyError(`a policy has 1 to ${MAX_STATEMENTS} statements`);
  const statements = raw.map((s, i) => parseStatement(s, `Statement[${i}]`, opts, grammar));
  return { statements, ...(Version === '2012-10-17' && { variables: true }) };
}

type Grammar = (ok: boolean, message: string) => void;

function parseStatement(s: unknown, where: string, opts: ParseOptions, grammar: Grammar): Statement {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new PolicyError(`${where} must be an object`);
  const st = s as Record<string, unknown>;
  for (const k of Object.keys(st)) grammar(STATEMENT_ELEMENTS.has(k), `${where} has an unknown element '${k}'`);
  grammar(st.Sid === undefined || typeof st.Sid === 'string', `${where}.Sid must be a string`);
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw new PolicyError(`${where}.Effect must be Allow or Deny`);
  const out: Statement = { effect: st.Effect, conditions: [] };
  const set = <K extends keyof Statement>(k: K, v: Statement[K] | undefined) => v !== undefined && (out[k] = v);
  set('actions', list(st.Action, `${where}.Action`));
  set('notActions', list(st.NotAction, `${where}.NotAction`));
  if (!out.actions === !out.notActions) throw new PolicyError(`${where} needs exactly one of Action and NotAction`);
  for (const a of out.actions ?? out.notActions ?? []) grammar(ACTION_RE.test(a), `${where}: action '${a}' must be '*' or '<service>:<action>'`);
  set('resources', list(st.Resource, `${where}.Resource`));
  set('notResources', list(st.NotResource, `${where}.NotResource`));
  grammar(!(out.resources && out.notResources), `${where} cannot have both Resource and NotResource`);
  set('principals', principals(st.Principal, `${where}.Principal`, grammar));
  set('notPrincipals', principals(st.NotPrincipal, `${where}.NotPrincipal`, grammar));
  const named = out.principals !== undefined || out.notPrincipals !== undefined;
  grammar(!(out.principals && out.notPrincipals), `${where} cannot have both Principal and NotPrincipal`);
  // IAM: "NotPrincipal must be used with Effect Deny"; with Allow it would grant everyone else, anonymous callers too.
  grammar(!(out.notPrincipals && out.effect === 'Allow'), `${where}: NotPrincipal is supported only with "Effect": "Deny"`);
  if (opts.kind === 'identity' && named) throw new PolicyError(`${where}: identity policies cannot name a Principal`);
  if (opts.kind === 'resource' && !named) throw new PolicyError(`${where}: resource policies must name a Principal`);
  if (opts.kind === 'identity' && !out.resources && !out.notResources) throw new PolicyError(`${where} needs Resource or NotResource`);
  if (st.Condition !== undefined) out.conditions = conditions(st.Condition, `${where}.Condition`, opts, grammar);
  return out;
}

function principals(v: unknown, where: string, grammar: Grammar): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === '*') return ['*'];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicyError(`${where} must be "*" or an object`);
  const out: string[] = [];
  for (const [kind, value] of Object.entries(v)) {
    if (!Object.hasOwn(PRINCIPAL_TYPES, kind)) throw new PolicyError(`${where} has an unsupported principal type '${kind}'`);
    const names = list(value, `${where}.${kind}`) ?? [];
    // IAM: a wildcard cannot match part of a principal's name or ARN ("*" alone is everyone).
    if (kind === 'AWS') for (const p of names) grammar(AWS_PRINCIPAL_RE.test(p) && (p === '*' || !/[*?]/.test(p)), `${where}: invalid principal '${p}'`);
    out.push(...names.map((p) => PRINCIPAL_TYPES[kind] + p));
  }
  if (out.length === 0) throw new PolicyError(`${where} names no principal`);
  return out;
}

function conditions(v: unknown, where: string, opts: ParseOptions, grammar: Grammar): Condition[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicyError(`${where} must be an object`);
  const out: Condition[] = [];
  for (const [operator, block] of Object.entries(v)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new PolicyError(`${where}.${operator} must be an object`);
    const op = parseOperator(operator);
    if (!op && !opts.lenient) throw new PolicyError(`${where}: unknown condition operator '${operator}'`);
    const seen = new Set<string>();
    for (const [key, raw] of Object.entries(block)) {
      grammar(CONDITION_KEY_RE.test(key), `${where}.${operator}: condition key '${key}' must be '<service>:<key>'`);
      // Key names are case-insensitive, so two spellings are one key written twice, whose reading
      // a reviewer cannot tell (IAM Access Analyzer's error "Duplicate keys with different case").
      grammar(!seen.has(key.toLowerCase()), `${where}.${operator}: the condition key '${key}' appears more than once with different capitalization`);
      seen.add(key.toLowerCase());
      const xs = Array.isArray(raw) ? raw : [raw];
      const scalar = (x: unknown) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
      grammar(xs.length > 0 && xs.every(scalar), `${where}.${operator}.${key} must be a value or a non-empty list of values`);
      const values = xs.map(String);
      const problem = op ? values.map((x) => invalidValue(op, x)).find((m) => m !== undefined) : `unknown condition operator '${operator}'`;
      if (problem !== undefined && !opts.lenient) throw new PolicyError(`${where}.${operator}.${key}: ${problem}`);
      out.push({ operator, key: key.toLowerCase(), values, ...(op && { op }), ...(problem !== undefined && { invalid: problem }) });
    }
  }
  return out;
}

/** The first key that appears twice in one object of a JSON text that parsed, if any. */
export function duplicateKey(text: string): string | undefined {
  // Objects' key sets, null for arrays; whether the next string is a key.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    }
  }
  return undefined;
}
