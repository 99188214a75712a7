/** IAM's glob: `*` any run of characters, `?` one character (a code point). */
import type { Part } from './variables.js';

export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return compile(ignoreCase ? 'i' : 's', pattern, () => toRegExpSource(pattern)).test(value);
}

/** A pattern whose literal parts (substituted policy variables) match only themselves. */
export function globMatchParts(parts: readonly Part[], value: string): boolean {
  const key = JSON.stringify(parts.map((p) => [p.literal ? 1 : 0, p.text]));
  return compile('p', key, () => parts.map((p) => (p.literal ? escapeRegExp(p.text) : toRegExpSource(p.text))).join('')).test(value);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const toRegExpSource = (pattern: string) =>
  pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');

// Patterns come from stored policies, so there are few; compiling one per check showed in profiles.
const compiled = new Map<string, RegExp>();

function compile(kind: 'i' | 's' | 'p', pattern: string, source: () => string): RegExp {
  const key = `${kind}:${pattern}`;
  let re = compiled.get(key);
  if (re === undefined) {
    // 'u': `?` is one character, as IAM reads it, not one UTF-16 unit of a character outside the BMP.
    re = new RegExp(`^${source()}$`, kind === 'i' ? 'isu' : 'su');
    if (compiled.size >= 10_000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}
