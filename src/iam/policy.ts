/**
 * IAM policy documents: parsing with bounds, and the matching IAM does for actions, resources,
 * principals and conditions. Pure functions; no I/O.
 */

export interface Statement {
  effect: 'Allow' | 'Deny';
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  /** Principal ARNs, account ids or '*'; undefined in identity policies. */
  principals?: string[];
  notPrincipals?: string[];
  conditions: Array<{ operator: string; key: string; values: string[] }>;
}

export interface Policy {
  statements: Statement[];
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

const MAX_STATEMENTS = 100;

function list(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  const xs = Array.isArray(v) ? v : [v];
  if (xs.length === 0 || xs.length > 500 || !xs.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 2048)) {
    throw new PolicyError(`${where} must be a string or a non-empty list of strings`);
  }
  return xs as string[];
}

function principals(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === '*') return ['*'];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicyError(`${where} must be "*" or an object`);
  const out: string[] = [];
  for (const [kind, value] of Object.entries(v)) {
    if (kind !== 'AWS' && kind !== 'Service') throw new PolicyError(`${where} has an unsupported principal type ${kind}`);
    out.push(...(list(value, `${where}.${kind}`) ?? []).map((p) => (kind === 'Service' ? `service:${p}` : p)));
  }
  return out;
}

/** Parses a policy document; `kind` says whether statements name principals (resource policies). */
export function parsePolicy(text: string, opts: { kind: 'identity' | 'resource'; maxLength: number }): Policy {
  if (text.length > opts.maxLength) throw new PolicyError(`the policy exceeds ${opts.maxLength} characters`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('the policy is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('the policy must be a JSON object');
  const { Version, Statement } = doc as Record<string, unknown>;
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') throw new PolicyError('Version must be 2012-10-17 or 2008-10-17');
  if (Statement === undefined) throw new PolicyError('the policy has no Statement');
  const raw = Array.isArray(Statement) ? Statement : [Statement];
  if (raw.length === 0 || raw.length > MAX_STATEMENTS) throw new PolicyError(`a policy has 1 to ${MAX_STATEMENTS} statements`);
  const statements = raw.map((s, i): Statement => {
    const where = `Statement[${i}]`;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new PolicyError(`${where} must be an object`);
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw new PolicyError(`${where}.Effect must be Allow or Deny`);
    const out: Statement = { effect: st.Effect, conditions: [] };
    const set = <K extends keyof Statement>(k: K, v: Statement[K] | undefined) => v !== undefined && (out[k] = v);
    set('actions', list(st.Action, `${where}.Action`));
    set('notActions', list(st.NotAction, `${where}.NotAction`));
    if (!out.actions === !out.notActions) throw new PolicyError(`${where} needs exactly one of Action and NotAction`);
    set('resources', list(st.Resource, `${where}.Resource`));
    set('notResources', list(st.NotResource, `${where}.NotResource`));
    set('principals', principals(st.Principal, `${where}.Principal`));
    set('notPrincipals', principals(st.NotPrincipal, `${where}.NotPrincipal`));
    const named = out.principals !== undefined || out.notPrincipals !== undefined;
    if (opts.kind === 'identity' && named) throw new PolicyError(`${where}: identity policies cannot name a Principal`);
    if (opts.kind === 'resource' && !named) throw new PolicyError(`${where}: resource policies must name a Principal`);
    if (opts.kind === 'identity' && !out.resources && !out.notResources) throw new PolicyError(`${where} needs Resource or NotResource`);
    if (st.Condition !== undefined) {
      if (typeof st.Condition !== 'object' || st.Condition === null) throw new PolicyError(`${where}.Condition must be an object`);
      for (const [operator, block] of Object.entries(st.Condition)) {
        if (typeof block !== 'object' || block === null) throw new PolicyError(`${where}.Condition.${operator} must be an object`);
        for (const [key, values] of Object.entries(block)) {
          const vs = (Array.isArray(values) ? values : [values]).map(String);
          out.conditions.push({ operator, key: key.toLowerCase(), values: vs });
        }
      }
    }
    return out;
  });
  return { statements };
}

/** IAM's glob: `*` any run, `?` one character. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return globRegExp(pattern, ignoreCase).test(value);
}

// Patterns come from stored policies, so there are few; compiling one per check showed in profiles.
const compiled = new Map<string, RegExp>();

function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  const key = (ignoreCase ? 'i:' : 's:') + pattern;
  let re = compiled.get(key);
  if (re === undefined) {
    re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', ignoreCase ? 'is' : 's');
    if (compiled.size >= 10_000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}
