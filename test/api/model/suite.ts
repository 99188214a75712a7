/**
 * The model-constraint suite every AWS API Berth serves runs (ECR: ecr-model-constraints.test.ts,
 * ECR Public: ecr-public-model-constraints.test.ts, KMS and Secrets Manager:
 * kms-secrets-model-constraints.test.ts, IAM and STS: query-model-constraints.test.ts): every
 * constraint the service model declares on the input
 * of an operation Berth serves, each broken alone in an otherwise valid request, signed and sent
 * over real HTTP: 400, the exception naming the member, and for a mutating call nothing changed.
 * Every operation of the model Berth does not serve is answered UnknownOperationException.
 * Clients validate almost none of these (ecr-api.md §1), so the server is the only check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from '../helpers/in-process.js';
import { signedFetch, signedQuery } from '../helpers/signed-json.js';
import type { ModelConstraint } from './constraint.js';

export type Body = Record<string, unknown>;
/** An answer in either protocol's terms: the error's type (`__type`, or the Query `Code`) and message. */
export interface Answer {
  status: number;
  type?: string | undefined;
  message?: string | undefined;
  /** The whole answer, for snapshots. */
  text: string;
}
export type Call = (op: string, body: Body) => Promise<Answer>;

/** What the suite needs of an API: its operations, and how a call reaches them. */
export interface ModelApi {
  /** Served operations. */
  actions: Record<string, unknown>;
  /** SigV4 signing name. */
  service: string;
  /** JSON 1.1: the X-Amz-Target prefix. */
  targetPrefix?: string;
  /** Query (IAM, STS): the form's Version. */
  queryVersion?: string;
  signingRegion?: string;
}
type Kind = 'min' | 'max' | 'pattern' | 'enum';

export interface Case {
  constraint: ModelConstraint;
  kind: Kind;
  body: Body;
}

export interface ModelSuite {
  /** The API, as the suite names it. */
  title: string;
  api: ModelApi;
  /** The generated fixture: the model's constraints and all its operations. */
  constraints: readonly ModelConstraint[];
  operations: readonly string[];
  /** Fewer served constrained operations than this means the fixture or the API lost some. */
  minOperations: number;
  /** Per served operation: a request that satisfies the whole model and sets every constrained member. */
  bodies: Record<string, Body>;
  mutating: RegExp;
  /** Calls that give each mutating call something to change (a function where a call needs an earlier answer). */
  seed: ReadonlyArray<[string, Body]> | ((call: Call) => Promise<void>);
  /** Calls that read back everything the mutating calls could change. */
  reads: ReadonlyArray<[string, Body]>;
  /** The answer where the service is documented to answer otherwise than its model implies: `__type` and the message's start. */
  exception?(k: Case, member: string): { type: string; message: RegExp } | undefined;
  /** The type a model constraint is refused with (ValidationException; IAM and STS: ValidationError). */
  validationType?: string;
  /** Whether the message quotes the refused value (`Value '…' at`); KMS and Secrets Manager never do, as values may be secrets. */
  quotesValue?: boolean | ((k: Case) => boolean);
  /** How the message names a member, from its wire path (`Tags.1.member.Key`); ECR's names are as sent, the others' first letters lowered. */
  memberName?(wirePath: string): string;
}

/** `Tags.1.member.Key` → `tags.1.member.key`, as IAM, STS, KMS and Secrets Manager name members. */
export const lowerFirstMembers = (path: string) =>
  path
    .split('.')
    .map((p) => p.charAt(0).toLowerCase() + p.slice(1))
    .join('.');

export function modelConstraintSuite(s: ModelSuite): void {
  const served = s.constraints.filter((c) => Object.hasOwn(s.api.actions, c.op));
  const byOp = new Map<string, ModelConstraint[]>();
  for (const c of served) (byOp.get(c.op) ?? byOp.set(c.op, []).get(c.op)!).push(c);
  const cases = allCases(served, s.bodies, byOp);

  describe(`${s.title} model constraints: the test data`, () => {
    it('covers every served operation the model constrains, from a body the model accepts', () => {
      assert.ok(byOp.size >= s.minOperations, `only ${byOp.size} operations`);
      for (const [op, constraints] of byOp) {
        const body = s.bodies[op];
        assert.ok(body, `no valid body for ${op}`);
        for (const c of constraints) assert.ok(valuesAt(body, c.path).length > 0, `${op}'s body lacks ${c.path}`);
        assert.deepEqual(violations(body, constraints), [], op);
      }
    });

    it('breaks exactly one member in every case', () => {
      // Every declared constraint kind that can be broken yields a case (min 0 cannot).
      const breakable = served.reduce((n, c) => n + (['min', 'max', 'pattern', 'enum'] as const).filter((k) => breakableKind(c, k)).length, 0);
      assert.equal(cases.length, breakable);
      for (const k of cases) {
        const broken = violations(k.body, byOp.get(k.constraint.op)!);
        assert.ok(broken.length > 0, `${label(k)} breaks nothing`);
        assert.deepEqual([...new Set(broken.map((b) => b.member))], [memberPath(k.constraint.path)], label(k));
        assert.ok(
          broken.some((b) => b.kind === k.kind),
          `${label(k)} does not break its own constraint`,
        );
      }
    });
  });

  describe(`${s.title} model constraints: refused as ${s.title} refuses them`, () => {
    let berth: BerthInProcess;
    let creds: Credentials;
    let before0: string;
    const region = s.api.signingRegion && { region: s.api.signingRegion };
    const call: Call = async (op, body) => {
      if (s.api.queryVersion !== undefined) {
        return signedQuery(berth, creds, { form: queryForm({ Action: op, Version: s.api.queryVersion, ...body }), service: s.api.service, ...region });
      }
      const res = await signedFetch(berth, creds, { target: `${s.api.targetPrefix}${op}`, body, service: s.api.service, ...region });
      return { status: res.status, type: res.json.__type, message: res.json.message, text: JSON.stringify(res.json) };
    };
    const snapshot = async () => {
      const out = [];
      for (const [op, body] of s.reads) {
        const res = await call(op, body);
        out.push(`${op} ${res.status} ${res.text.replace(/<RequestId>[^<]*<\/RequestId>/, '')}`);
      }
      return out.join('\n');
    };
    before(async () => {
      berth = await startInProcess();
      creds = adminCredentials(berth);
      const seed = typeof s.seed === 'function' ? s.seed : async (c: Call) => void (await seedAll(c, s.seed as ReadonlyArray<[string, Body]>));
      await seed(call);
      before0 = await snapshot();
    });
    after(async () => berth?.cleanup());

    for (const k of cases) {
      it(label(k), async () => {
        const res = await call(k.constraint.op, k.body);
        assert.equal(res.status, 400, res.text.slice(0, 300));
        const member = (s.memberName ?? ((p: string) => p))(memberPath(k.constraint.path));
        const other = s.exception?.(k, member);
        if (other) {
          assert.equal(res.type, other.type, res.message);
          assert.match(res.message ?? '', other.message);
        } else {
          assert.equal(res.type, s.validationType ?? 'ValidationException', res.message);
          const texts = violations(k.body, byOp.get(k.constraint.op)!)
            .map((b) => literal(b.text))
            .join('|');
          const quotes = typeof s.quotesValue === 'function' ? s.quotesValue(k) : (s.quotesValue ?? true);
          const value = quotes ? "Value '[\\s\\S]*' at" : 'Value at';
          assert.match(
            res.message ?? '',
            new RegExp(`^1 validation error detected: ${value} '${literal(member)}' failed to satisfy constraint: Member must (?:${texts})$`),
          );
        }
        if (s.mutating.test(k.constraint.op)) assert.equal(await snapshot(), before0, `${k.constraint.op} changed state`);
      });
    }

    const unserved = s.operations.filter((op) => !Object.hasOwn(s.api.actions, op));
    const query = s.api.queryVersion !== undefined;
    it(`answers the model's ${unserved.length} operations it does not serve with ${query ? 'InvalidAction' : 'UnknownOperationException'}`, async () => {
      for (const op of unserved) {
        const res = await call(op, {});
        assert.equal(res.status, 400, op);
        assert.equal(res.type, query ? 'InvalidAction' : 'UnknownOperationException', op);
        const words = query ? `Could not find operation ${literal(op)} for version ${literal(s.api.queryVersion!)}` : `Unknown operation ${literal(op)}`;
        assert.match(res.message ?? '', new RegExp(`^${words}$`));
      }
      assert.equal(await snapshot(), before0);
    });
  });
}

/** Makes each call in turn; any but a 200 stops the suite. The answers, in order. */
export async function seedAll(call: Call, calls: ReadonlyArray<[string, Body]>): Promise<Answer[]> {
  const out = [];
  for (const [op, body] of calls) {
    const res = await call(op, body);
    if (res.status !== 200) throw new Error(`seeding ${op}: ${res.status} ${res.text}`);
    out.push(res);
  }
  return out;
}

/** A body as the Query protocol sends it: `Tags.member.1.Key=...`, numbers and booleans as text. */
export function queryForm(body: Body): URLSearchParams {
  const form = new URLSearchParams();
  const add = (prefix: string, v: unknown): void => {
    // An empty list is the member with no value, as botocore sends it.
    if (Array.isArray(v) && v.length === 0) form.append(prefix, '');
    else if (Array.isArray(v)) for (const [i, item] of v.entries()) add(`${prefix}.member.${i + 1}`, item);
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) add(`${prefix}.${k}`, x);
    else form.append(prefix, String(v));
  };
  for (const [k, v] of Object.entries(body)) add(k, v);
  return form;
}

function allCases(served: ModelConstraint[], bodies: Record<string, Body>, byOp: Map<string, ModelConstraint[]>): Case[] {
  const cases: Case[] = [];
  for (const c of served) {
    const base = bodies[c.op];
    if (!base) continue;
    for (const kind of ['min', 'max', 'pattern', 'enum'] as const) {
      if (!breakableKind(c, kind)) continue;
      const sample = valuesAt(base, c.path)[0];
      const body = structuredClone(base);
      setAt(body, c.path, breakingValue(c, kind, sample, byOp.get(c.op)!));
      cases.push({ constraint: c, kind, body });
    }
  }
  return cases;
}

function breakableKind(c: ModelConstraint, kind: Kind): boolean {
  if (kind === 'min') return c.min !== undefined && (c.min > 0 || c.type === 'integer' || c.type === 'long');
  return c[kind] !== undefined;
}

/** A value for `c`'s member that breaks `kind` and, where the model allows, nothing else. */
function breakingValue(c: ModelConstraint, kind: Kind, sample: unknown, all: ModelConstraint[]): unknown {
  const numeric = c.type === 'integer' || c.type === 'long';
  if (kind === 'enum') return 'NOT_IN_THE_ENUM';
  if (numeric) return kind === 'min' ? c.min! - 1 : c.max! + 1;
  if (c.type === 'list') return kind === 'min' ? [] : Array.from({ length: c.max! + 1 }, () => structuredClone((sample as unknown[])[0]));
  if (c.type === 'blob') return Buffer.alloc(kind === 'min' ? c.min! - 1 : c.max! + 1, 1).toString('base64');
  const s = String(sample);
  if (kind === 'min') return s.slice(0, c.min! - 1);
  if (kind === 'max') return s + s.at(-1)!.repeat(c.max! + 1 - s.length);
  // A pattern miss the length constraints still accept, where one exists.
  const candidates = [`!${s.slice(1)}`, `${s.slice(0, -1)}!`, s.toUpperCase(), '!', `\u0100${s.slice(1)}`, `\u0001${s.slice(1)}`];
  const own = all.filter((o) => o.path === c.path);
  return candidates.find((v) => violationsOf(v, own).every((b) => b.kind === 'pattern') && violationsOf(v, own).length > 0) ?? candidates[0];
}

interface Violation {
  member: string;
  kind: Kind;
  /** The constraint as AWS words it after "Member must ". */
  text: string;
}

/** What the model refuses in `body`, member by member (lists counted from 1, as AWS names them). */
function violations(body: Body, constraints: ModelConstraint[]): Violation[] {
  const out: Violation[] = [];
  for (const c of constraints) {
    for (const { value, path } of entriesAt(body, c.path)) {
      for (const v of violationsOf(value, [c])) out.push({ ...v, member: memberPath(path) });
    }
  }
  return out;
}

function violationsOf(value: unknown, constraints: ModelConstraint[]): Omit<Violation, 'member'>[] {
  const out: Omit<Violation, 'member'>[] = [];
  for (const c of constraints) {
    const numeric = c.type === 'integer' || c.type === 'long';
    const size = numeric
      ? Number(value)
      : c.type === 'blob'
        ? Buffer.from(String(value), 'base64').length
        : Array.isArray(value)
          ? value.length
          : String(value).length;
    const what = numeric ? 'have value' : 'have length';
    if (c.min !== undefined && size < c.min) out.push({ kind: 'min', text: `${what} greater than or equal to ${c.min}` });
    if (c.max !== undefined && size > c.max) out.push({ kind: 'max', text: `${what} less than or equal to ${c.max}` });
    // Java's syntax, as AWS's models write it: `\p{L}` needs JavaScript's `u` flag, which other patterns' `\!` would not survive.
    if (c.pattern !== undefined && !new RegExp(`^(?:${c.pattern})$`, c.pattern.includes('\\p{') ? 'u' : '').test(String(value))) {
      out.push({ kind: 'pattern', text: `satisfy regular expression pattern: ${c.pattern}` });
    }
    if (c.enum !== undefined && !c.enum.includes(String(value))) out.push({ kind: 'enum', text: `satisfy enum value set: [${c.enum.join(', ')}]` });
  }
  return out;
}

/** `a.[].b` → every value there, with its concrete path (`a.0.b`). */
function entriesAt(body: unknown, path: string): Array<{ value: unknown; path: string }> {
  let here: Array<{ value: unknown; path: string[] }> = [{ value: body, path: [] }];
  for (const step of path.split('.')) {
    const next: typeof here = [];
    for (const h of here) {
      if (step === '[]') {
        if (Array.isArray(h.value)) for (const [i, v] of h.value.entries()) next.push({ value: v, path: [...h.path, String(i)] });
      } else if (typeof h.value === 'object' && h.value !== null && Object.hasOwn(h.value, step)) {
        next.push({ value: (h.value as Body)[step], path: [...h.path, step] });
      }
    }
    here = next;
  }
  return here.map((h) => ({ value: h.value, path: h.path.join('.') }));
}

function valuesAt(body: unknown, path: string): unknown[] {
  return entriesAt(body, path).map((e) => e.value);
}

/** Sets the value at `path`, in the first item of each list on the way. */
function setAt(body: Body, path: string, value: unknown): void {
  const steps = path.split('.').map((s) => (s === '[]' ? 0 : s));
  let here: Record<string | number, unknown> = body;
  for (const step of steps.slice(0, -1)) here = here[step] as Record<string | number, unknown>;
  here[steps.at(-1)!] = value;
}

/** `a.0.b` / `a.[].b` → `a.1.member.b`, as AWS names a member. */
function memberPath(path: string): string {
  return path
    .split('.')
    .map((s) => (s === '[]' ? '1.member' : /^\d+$/.test(s) ? `${Number(s) + 1}.member` : s))
    .join('.');
}

function label(k: Case): string {
  return `${k.constraint.op} ${k.constraint.path} ${k.kind}`;
}

export function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
