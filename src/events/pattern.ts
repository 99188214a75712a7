/**
 * EventBridge event patterns: validated once (PutRule), compiled to a matcher, and run against
 * every event by the deliverer. Pure: no I/O, bounded work.
 *
 * A pattern is a JSON object whose keys name event fields; all must match (AND). A key's value
 * is either an object (a nested pattern for an object field) or a non-empty array of
 * conditions, any of which may match (OR). A condition is a literal (string, number, boolean,
 * null: exact match) or a one-key object: `prefix`, `suffix`, `equals-ignore-case`,
 * `anything-but` (a literal, a list of literals, or `{"prefix": ...}` / `{"suffix": ...}`),
 * `exists` (true/false), `numeric` (comparison pairs: ["<", 10, ">=", 0]). When an event field
 * is an array, the condition matches if it matches any element. A missing field matches only
 * `{"exists": false}`.
 *
 * Bounds (hostile input): the pattern text, nesting depth, conditions per field and fields
 * overall are limited, and a pattern outside them is refused as invalid, so neither compiling
 * nor matching can recurse deeply or run long.
 */

export const MAX_PATTERN_CHARS = 4096;
export const MAX_DEPTH = 10;
export const MAX_CONDITIONS = 1000;

export class InvalidPatternError extends Error {}

type Scalar = string | number | boolean | null;
type Condition = (present: boolean, values: readonly unknown[]) => boolean;
interface FieldMatcher {
  key: string;
  match: (present: boolean, value: unknown) => boolean;
}

export type EventMatcher = (event: unknown) => boolean;

const invalid = (reason: string): InvalidPatternError => new InvalidPatternError(`Event pattern is not valid. Reason: ${reason}`);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Parses and compiles a pattern; throws InvalidPatternError naming what is wrong. */
export function compilePattern(text: string): EventMatcher {
  if (text.length > MAX_PATTERN_CHARS) throw invalid(`the pattern exceeds ${MAX_PATTERN_CHARS} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('the pattern is not valid JSON');
  }
  if (!isObject(parsed)) throw invalid('the pattern must be a JSON object');
  if (Object.keys(parsed).length === 0) throw invalid('the pattern must name at least one field');
  const budget = { conditions: 0 };
  const root = compileObject(parsed, 1, budget);
  return (event) => isObject(event) && matchObject(root, event);
}

function compileObject(pattern: Record<string, unknown>, depth: number, budget: { conditions: number }): FieldMatcher[] {
  if (depth > MAX_DEPTH) throw invalid(`the pattern nests deeper than ${MAX_DEPTH} levels`);
  const fields: FieldMatcher[] = [];
  for (const [key, value] of Object.entries(pattern)) {
    if (Array.isArray(value)) {
      if (value.length === 0) throw invalid(`'${key}' has an empty list of values`);
      budget.conditions += value.length;
      if (budget.conditions > MAX_CONDITIONS) throw invalid(`the pattern has more than ${MAX_CONDITIONS} values`);
      const conditions = value.map((c) => compileCondition(key, c));
      fields.push({
        key,
        match: (present, v) => {
          if (isObject(v)) return false; // a leaf condition never matches an object field
          const values = Array.isArray(v) ? v : [v];
          return conditions.some((c) => c(present, values));
        },
      });
    } else if (isObject(value)) {
      if (Object.keys(value).length === 0) throw invalid(`'${key}' is an empty object`);
      const nested = compileObject(value, depth + 1, budget);
      fields.push({
        key,
        match: (present, v) => present && (isObject(v) ? matchObject(nested, v) : Array.isArray(v) && v.some((e) => isObject(e) && matchObject(nested, e))),
      });
    } else {
      throw invalid(`match value for '${key}' must be an array or an object`);
    }
  }
  return fields;
}

function matchObject(fields: FieldMatcher[], event: Record<string, unknown>): boolean {
  return fields.every((f) => f.match(Object.hasOwn(event, f.key), Object.hasOwn(event, f.key) ? event[f.key] : undefined));
}

const any =
  (pred: (v: unknown) => boolean): Condition =>
  (present, values) =>
    present && values.some(pred);

function compileCondition(key: string, c: unknown): Condition {
  if (isScalar(c)) return any((v) => v === c);
  if (!isObject(c)) throw invalid(`'${key}' has a value that is neither a literal nor a condition object`);
  const ops = Object.keys(c);
  if (ops.length !== 1) throw invalid(`a condition object for '${key}' must have exactly one operator`);
  const op = ops[0]!;
  const arg = c[op];
  switch (op) {
    case 'prefix':
      return stringTest(key, op, arg, (v, s) => v.startsWith(s));
    case 'suffix':
      return stringTest(key, op, arg, (v, s) => v.endsWith(s));
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') throw invalid(`'equals-ignore-case' for '${key}' must be a string`);
      const lower = arg.toLowerCase();
      return any((v) => typeof v === 'string' && v.toLowerCase() === lower);
    }
    case 'exists':
      if (typeof arg !== 'boolean') throw invalid(`'exists' for '${key}' must be true or false`);
      return arg ? (present, values) => present && values.length > 0 : (present) => !present;
    case 'numeric':
      return numeric(key, arg);
    case 'anything-but':
      return anythingBut(key, arg);
    default:
      throw invalid(`unrecognized match type '${op.slice(0, 64)}' for '${key}'`);
  }
}

function stringTest(key: string, op: string, arg: unknown, test: (v: string, s: string) => boolean): Condition {
  if (typeof arg === 'string') return any((v) => typeof v === 'string' && test(v, arg));
  // {"prefix": {"equals-ignore-case": "..."}}
  if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') {
    const lower = (arg['equals-ignore-case'] as string).toLowerCase();
    return any((v) => typeof v === 'string' && test(v.toLowerCase(), lower));
  }
  throw invalid(`'${op}' for '${key}' must be a string`);
}

function anythingBut(key: string, arg: unknown): Condition {
  if (isScalar(arg)) return any((v) => v !== arg);
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw invalid(`'anything-but' for '${key}' has an empty list`);
    if (!arg.every((a) => typeof a === 'string' || typeof a === 'number')) throw invalid(`'anything-but' for '${key}' must list strings or numbers`);
    const excluded = new Set<unknown>(arg);
    return any((v) => !excluded.has(v));
  }
  if (isObject(arg) && Object.keys(arg).length === 1) {
    const [op] = Object.keys(arg) as [string];
    const s = arg[op];
    if ((op === 'prefix' || op === 'suffix') && typeof s === 'string') {
      return any((v) => typeof v === 'string' && !(op === 'prefix' ? v.startsWith(s) : v.endsWith(s)));
    }
  }
  throw invalid(`'anything-but' for '${key}' must be a literal, a list, or a prefix or suffix`);
}

const NUMERIC_OPS: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '=': (a, b) => a === b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};
/** EventBridge's numeric range. */
const NUMERIC_LIMIT = 5e9;

function numeric(key: string, arg: unknown): Condition {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length > 4 || arg.length % 2 !== 0) {
    throw invalid(`'numeric' for '${key}' must be one or two comparisons, like [">", 0, "<=", 5]`);
  }
  const tests: Array<(v: number) => boolean> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const bound = arg[i + 1];
    const cmp = typeof op === 'string' && Object.hasOwn(NUMERIC_OPS, op) ? NUMERIC_OPS[op]! : undefined;
    if (!cmp) throw invalid(`'numeric' for '${key}' has an unknown operator`);
    if (typeof bound !== 'number' || !Number.isFinite(bound) || Math.abs(bound) > NUMERIC_LIMIT) {
      throw invalid(`'numeric' for '${key}' needs a number between -${NUMERIC_LIMIT} and ${NUMERIC_LIMIT}`);
    }
    tests.push((v) => cmp(v, bound));
  }
  return any((v) => typeof v === 'number' && tests.every((t) => t(v)));
}
