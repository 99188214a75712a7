/**
 * Query protocol parameters (IAM, STS) read as the model's members, to be checked as a JSON body
 * is (refusal.ts): `Tags.member.1.Key` is `Tags[0].Key`, `Name=` with no value an empty list (as
 * botocore sends one), an integer member a number. An integer member that is no integer is left
 * out: the action refuses it in its own words.
 */
import { z } from 'zod';

export type QueryMembers = Record<string, z.ZodType>;

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
  const v = form.get(key);
  if (v === null || !(m instanceof z.ZodNumber)) return v ?? undefined;
  return /^-?\d{1,15}$/.test(v) ? Number(v) : undefined;
}
