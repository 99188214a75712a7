/**
 * IAM policy variables (policies of Version 2012-10-17 only): `${key}` is the request context's
 * single value of `key`, `${key, 'default'}` that or the default ('' inside it is a quote), and
 * `${*}`, `${?}`, `${$}` are those characters taken literally. A substituted value is always
 * literal text: a `*` in a user name or a token claim is not a wildcard. A key that is missing or
 * has several values (and no default) cannot be resolved, and IAM then takes the statement as
 * not applying.
 */

/** Policy text (whose `*` and `?` are wildcards where the operator has them) or literal text. */
export interface Part {
  text: string;
  literal: boolean;
}

const VARIABLE = /\$\{([^}]*)\}/g;
const WITH_DEFAULT = /^([^,\s]+)\s*,\s*'((?:[^']|'')*)'$/;

export const hasVariable = (text: string): boolean => text.includes('${');

/**
 * `text` with its variables replaced, or undefined when one cannot be resolved. `lookup` answers a
 * key's values (keys are case-insensitive: it is given the lower-cased key).
 */
export function resolveVariables(text: string, lookup: (key: string) => readonly string[] | undefined): Part[] | undefined {
  const parts: Part[] = [];
  let at = 0;
  for (const m of text.matchAll(VARIABLE)) {
    if (m.index > at) parts.push({ text: text.slice(at, m.index), literal: false });
    at = m.index + m[0].length;
    const inner = m[1]!.trim();
    if (inner === '*' || inner === '?' || inner === '$') {
      parts.push({ text: inner, literal: true });
      continue;
    }
    const d = WITH_DEFAULT.exec(inner);
    const key = (d ? d[1]! : inner).toLowerCase();
    const values = lookup(key);
    if (values !== undefined && values.length === 1) parts.push({ text: values[0]!, literal: true });
    else if (d) parts.push({ text: d[2]!.replaceAll("''", "'"), literal: true });
    else return undefined;
  }
  if (at < text.length) parts.push({ text: text.slice(at), literal: false });
  return parts;
}

export const joinParts = (parts: readonly Part[]): string => parts.map((p) => p.text).join('');
