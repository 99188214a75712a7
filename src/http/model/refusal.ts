/**
 * How AWS refuses a request its service model does not admit, read from zod's issues, in the
 * order AWS's front ends check:
 *
 * 1. a body that does not deserialize into the model's types (a string for a number, a fraction
 *    for an integer, a blob that is not base64, an unknown member of a strict shape) →
 *    `serialization`;
 * 2. the model's constraints (required, length, range, enum, pattern), all of them at once, one
 *    per member → `validation`: `2 validation errors detected: Value 'x' at 'a.b' failed to
 *    satisfy constraint: Member must ...; Value ...`;
 * 3. anything else (a pattern of no model, a refinement) is a rule of the service's own → `rule`
 *    (`own` when the service words it in a message of its own: constraints.ts `rule`).
 *
 * The words are the constraint's numbers, never zod's text. What differs between APIs is a
 * `Wording`: how members are named and whether (and how) a value is quoted back.
 */
import type { z } from 'zod';
import { modelPatternText } from './constraints.js';

type Issue = z.core.$ZodIssue;
export type Path = readonly PropertyKey[];

export interface Wording {
  /** IAM, STS, KMS, Secrets Manager, EventBridge write `tags.1.member.key`; ECR writes members as sent (`tags.1.member.Key`). */
  lowerFirst: boolean;
  /** The refused value as quoted (`'x'`), or undefined to quote none (`Value at`). */
  quote(value: unknown, path: Path): string | undefined;
}

export type Refusal = { kind: 'serialization' | 'validation'; message: string } | { kind: 'rule'; field: string; why: string; own?: boolean };

/** `KeyId` → `keyId`. */
export const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** Parses `input` with `schema`, or throws `refuse`'s error for AWS's refusal of it. */
export function parseModel<T extends z.ZodType>(schema: T, input: unknown, wording: Wording, refuse: (r: Refusal) => Error): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw refuse(refusal(result.error.issues, input, wording));
}

export function refusal(issues: readonly Issue[], input: unknown, wording: Wording): Refusal {
  const name = (path: Path) => memberName(path, wording) || 'request';
  const serialization = issues.find((i) => isSerializationIssue(i, input, issues));
  if (serialization) return { kind: 'serialization', message: serializationMessage(serialization, name(serialization.path)) };
  const seen = new Set<string>();
  const model: string[] = [];
  for (const issue of issues) {
    const why = modelConstraint(issue, input);
    const field = name(issue.path);
    if (why === undefined || seen.has(field)) continue;
    seen.add(field);
    const value = valueAt(input, issue.path);
    const quoted = value === undefined ? 'null' : wording.quote(value, issue.path);
    model.push(`Value ${quoted === undefined ? '' : `${quoted} `}at '${field}' failed to satisfy constraint: ${why}`);
  }
  if (model.length > 0) {
    const count = model.length === 1 ? '1 validation error detected' : `${model.length} validation errors detected`;
    return { kind: 'validation', message: `${count}: ${model.join('; ')}` };
  }
  const issue = issues[0]!;
  const own = issue.code === 'custom' && (issue.params as { own?: boolean } | undefined)?.own === true;
  return { kind: 'rule', field: name(issue.path), why: issue.message, ...(own && { own }) };
}

/** AWS's wording of one failed constraint on `field`, for a door's checks beyond the schema. */
export const validationMessage = (field: string, constraint: string) =>
  `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`;

function isSerializationIssue(issue: Issue, input: unknown, all: readonly Issue[]): boolean {
  if (issue.code === 'unrecognized_keys') return true;
  if (issue.code === 'invalid_type') return valueAt(input, issue.path) !== undefined;
  // Beyond the integer range, unless the model bounds the member itself (then that is the error).
  if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'int') {
    return !all.some((o) => o !== issue && (o.code === 'too_big' || o.code === 'too_small') && o.origin === 'number' && samePath(o.path, issue.path));
  }
  return false;
}

function serializationMessage(issue: Issue, where: string): string {
  if (issue.code === 'unrecognized_keys') return `Unrecognized field(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type') return `Unexpected value type at '${where}': expected ${issue.expected === 'int' ? 'an integer' : issue.expected}`;
  return `Numeric value out of range at '${where}'`;
}

function modelConstraint(issue: Issue, input: unknown): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return valueAt(input, issue.path) === undefined ? 'Member must not be null' : undefined;
    case 'too_small':
    case 'too_big': {
      if (issue.origin === 'int') return undefined;
      const bound = issue.code === 'too_small' ? `greater than or equal to ${String(issue.minimum)}` : `less than or equal to ${String(issue.maximum)}`;
      return issue.origin === 'number' || issue.origin === 'bigint' ? `Member must have value ${bound}` : `Member must have length ${bound}`;
    }
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    case 'invalid_format': {
      const model = issue.format === 'regex' && issue.pattern !== undefined ? modelPatternText(issue.pattern) : undefined;
      return model === undefined ? undefined : `Member must satisfy regular expression pattern: ${model}`;
    }
    default:
      return undefined;
  }
}

/** `['tags', 0, 'Key']` → `tags.1.member.Key` (or `.key`), as AWS names a member (lists count from 1). */
function memberName(path: Path, wording: Wording): string {
  return path.map((p) => (typeof p === 'number' ? `${p + 1}.member` : wording.lowerFirst ? lowerFirst(String(p)) : String(p))).join('.');
}

function samePath(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}
