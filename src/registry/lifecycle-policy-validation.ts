/**
 * Lifecycle policy documents: ECR's schema and rules, checked in full, with ECR's wording for
 * failures. The result is typed and sorted by priority, for the evaluator to use as it is.
 * Berth goes beyond ECR in one place: `sinceImagePulled` may drive `expire`.
 * It sits in the registry core, which validates a policy when it is put; the lifecycle feature
 * (above the core) reads the same types to evaluate it.
 */

export type TagStatus = 'tagged' | 'untagged' | 'any';
export type CountType = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled' | 'sinceImageTransitioned';

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: {
    tagStatus: TagStatus;
    tagPatternList?: string[];
    tagPrefixList?: string[];
    storageClass: 'standard' | 'archive';
    countType: CountType;
    countUnit?: 'days';
    countNumber: number;
  };
  action: { type: 'expire' | 'transition'; targetStorageClass?: 'archive' };
}

export interface LifecyclePolicy {
  rules: LifecycleRule[];
}

export class LifecyclePolicyError extends Error {
  constructor(detail: string) {
    super(`Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ${detail}'`);
    this.name = 'LifecyclePolicyError';
  }
}

export const MIN_POLICY_CHARS = 100;
export const MAX_POLICY_CHARS = 30720;
const MAX_RULES = 50;

const fail = (detail: string): never => {
  throw new LifecyclePolicyError(detail);
};

function object(v: unknown, required: string[], allowed: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(`instance type (${Array.isArray(v) ? 'array' : typeof v}) does not match any allowed primitive type (allowed: ["object"])`);
  const o = v as Record<string, unknown>;
  const missing = required.filter((k) => o[k] === undefined);
  if (missing.length > 0) fail(`object has missing required properties (${JSON.stringify(missing)})`);
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`object instance has properties which are not allowed by the schema: (${JSON.stringify(extra)})`);
  return o;
}

function oneOf<T extends string>(v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T))
    fail(`instance value (${JSON.stringify(v)}) not found in enum :(possible values: ${JSON.stringify(values)})`);
  return v as T;
}

/** ECR reads these numbers as 32-bit integers; anything larger is refused, not rounded. */
const MAX_INT = 2_147_483_647;

function positiveInt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`instance type (${typeof v}) does not match any allowed primitive type (allowed: ["integer"])`);
  if ((v as number) < 1) fail(`numeric instance is lower than the required minimum (minimum: 1, found: ${v as number})`);
  if ((v as number) > MAX_INT) fail(`numeric instance is greater than the required maximum (maximum: ${MAX_INT}, found: ${v as number})`);
  return v as number;
}

function stringList(v: unknown, name: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 128)) {
    fail(`${name} must be a non-empty array of strings`);
  }
  return v as string[];
}

function parseRule(v: unknown): LifecycleRule {
  const r = object(v, ['rulePriority', 'selection', 'action'], ['rulePriority', 'description', 'selection', 'action']);
  const s = object(
    r.selection,
    ['tagStatus', 'countType', 'countNumber'],
    ['tagStatus', 'tagPatternList', 'tagPrefixList', 'storageClass', 'countType', 'countUnit', 'countNumber'],
  );
  const a = object(r.action, ['type'], ['type', 'targetStorageClass']);
  const tagStatus = oneOf(s.tagStatus, ['tagged', 'untagged', 'any'] as const);
  const tagPatternList = stringList(s.tagPatternList, 'tagPatternList');
  const tagPrefixList = stringList(s.tagPrefixList, 'tagPrefixList');
  if (tagStatus === 'tagged' && !tagPatternList === !tagPrefixList) fail('tagStatus tagged requires exactly one of tagPatternList and tagPrefixList');
  if (tagStatus !== 'tagged' && (tagPatternList || tagPrefixList)) fail(`tagStatus ${tagStatus} must not have tagPatternList or tagPrefixList`);
  for (const p of tagPatternList ?? []) if ((p.match(/\*/g) ?? []).length > 4) fail(`tag pattern ${p} has more than 4 wildcards`);
  const countType = oneOf(s.countType, ['imageCountMoreThan', 'sinceImagePushed', 'sinceImagePulled', 'sinceImageTransitioned'] as const);
  const countNumber = positiveInt(s.countNumber);
  const storageClass = s.storageClass === undefined ? 'standard' : oneOf(s.storageClass, ['standard', 'archive'] as const);
  if (countType === 'imageCountMoreThan' && s.countUnit !== undefined) fail('countUnit must not be set when countType is imageCountMoreThan');
  if (countType !== 'imageCountMoreThan' && s.countUnit === undefined) fail(`countUnit is required when countType is ${countType}`);
  if (s.countUnit !== undefined) oneOf(s.countUnit, ['days'] as const);
  if (countType === 'sinceImageTransitioned' ? storageClass !== 'archive' : storageClass !== 'standard') {
    fail(`storageClass ${storageClass} cannot be used with countType ${countType}`);
  }
  const type = oneOf(a.type, ['expire', 'transition'] as const);
  if (type === 'transition' && a.targetStorageClass !== 'archive') fail('action transition requires targetStorageClass archive');
  if (type === 'expire' && a.targetStorageClass !== undefined) fail('action expire does not take a targetStorageClass');
  if (type === 'transition' && countType === 'sinceImageTransitioned') fail('an archived image cannot be transitioned again');
  if (type === 'expire' && countType === 'sinceImageTransitioned' && countNumber < 90) fail('archived images are kept at least 90 days');
  if (r.description !== undefined && (typeof r.description !== 'string' || r.description.length > 1024)) fail('description must be a string');
  const rule: LifecycleRule = {
    rulePriority: positiveInt(r.rulePriority),
    selection: {
      tagStatus,
      ...(tagPatternList && { tagPatternList }),
      ...(tagPrefixList && { tagPrefixList }),
      storageClass,
      countType,
      ...(s.countUnit !== undefined && { countUnit: 'days' as const }),
      countNumber,
    },
    action: { type, ...(type === 'transition' && { targetStorageClass: 'archive' as const }) },
  };
  if (typeof r.description === 'string') rule.description = r.description;
  return rule;
}

export function parseLifecyclePolicy(text: string): LifecyclePolicy {
  if (text.length < MIN_POLICY_CHARS || text.length > MAX_POLICY_CHARS) {
    fail(`the policy text must be ${MIN_POLICY_CHARS} to ${MAX_POLICY_CHARS} characters`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new LifecyclePolicyError('Could not map policyString into LifecyclePolicy.');
  }
  const root = object(doc, ['rules'], ['rules']);
  if (!Array.isArray(root.rules) || root.rules.length === 0) fail('rules must be a non-empty array');
  const raw = root.rules as unknown[];
  if (raw.length > MAX_RULES) fail(`a policy has at most ${MAX_RULES} rules`);
  const rules = raw.map(parseRule).sort((a, b) => a.rulePriority - b.rulePriority);
  const priorities = new Set<number>();
  const prefixes = new Set<string>();
  let untagged = 0;
  for (const r of rules) {
    if (priorities.has(r.rulePriority)) fail(`rulePriority ${r.rulePriority} is used by more than one rule`);
    priorities.add(r.rulePriority);
    if (r.selection.tagStatus === 'untagged' && ++untagged > 1) fail('only one rule may select untagged images');
    for (const p of r.selection.tagPrefixList ?? []) {
      if (prefixes.has(p)) fail(`tag prefix ${p} is used by more than one rule`);
      prefixes.add(p);
    }
  }
  const anyRule = rules.find((r) => r.selection.tagStatus === 'any');
  if (anyRule && anyRule !== rules[rules.length - 1]) fail('a rule with tagStatus any must have the highest rulePriority');
  return { rules };
}
