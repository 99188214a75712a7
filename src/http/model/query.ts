/**
 * Query protocol parameters (IAM, STS) read as the model's members, to be checked as a JSON body
 * is (refusal.ts): `Tags.member.1.Key` is `Tags[0].Key`, `Name=` with no value an empty list (as
 * botocore sends one), an integer member a number. An integer member that is no integer (`abc`,
 * `1.5`, `1e400`, or past a 32-bit integer, which is what the Query protocol's integers are) is
 * a MalformedMember: the service refuses the request before it reads anything else.
 */
import { z } from 'zod';

export type QueryMembers = Record<string, z.ZodType>;

/** A parameter of an integer member whose value is no integer. */
export class MalformedMember extends Error {
  constructor(
    readonly parameter: string,
    readonly value: string,
  ) {
    super(`${parameter} is not an integer`);
  }
}

const INT32 = 2 ** 31;

/** The integer `form` gives `name`, undefined when absent; MalformedMember when it is no integer. */
export function integerParam(form: URLSearchParams, name: string): number | undefined {
  const v = form.get(name);
  if (v === null) return undefined;
  const n = /^[+-]?\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!(n >= -INT32 && n < INT32)) throw new MalformedMember(name, v);
  return n;
}

export function formInput(members: QueryMembers, form: URLSearchParams, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(members)) {
    const v = memberOf(form, prefix + name, m instanceof z.ZodOptional ? (m.unwrap() as z.ZodType) : m);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function memberOf(form: URLSearchParams, key: string, m: z.ZodType): unknown {
  if (m instanceof z.ZodArray) {
    const item = m.element as z.ZodType;
    const fields = item instanceof z.ZodObject ? (item.shape as QueryMembers) : undefined;
    const at = (i: number) => `${key}.member.${i}`;
    const present = (i: number) => (fields ? Object.keys(fields).some((f) => form.has(`${at(i)}.${f}`)) : form.has(at(i)));
    let n = 0;
    while (n < 10_000 && present(n + 1)) n++;
    if (n === 0 && !form.has(key)) return undefined;
    return Array.from({ length: n }, (_, i) => (fields ? formInput(fields, form, `${at(i + 1)}.`) : memberOf(form, at(i + 1), item)));
  }
  if (m instanceof z.ZodNumber) return integerParam(form, key);
  return form.get(key) ?? undefined;
}
