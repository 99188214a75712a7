/** IAM's glob: `*` any run of characters, `?` one character (a code point); matched without backtracking (core/wildcard.ts). */
import { literalTokens, tokensMatch, type WildTokens, wildcardTokens } from '../core/wildcard.js';
import type { Part } from './variables.js';

export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return tokensMatch(
    cached(ofPatterns, pattern, () => wildcardTokens(pattern, true)),
    value,
    ignoreCase,
  );
}

/** A pattern whose literal parts (substituted policy variables) match only themselves. */
export function globMatchParts(parts: readonly Part[], value: string): boolean {
  const key = JSON.stringify(parts.map((p) => [p.literal ? 1 : 0, p.text]));
  return tokensMatch(
    cached(ofParts, key, () => parts.flatMap((p) => (p.literal ? literalTokens(p.text) : wildcardTokens(p.text, true)))),
    value,
  );
}

// Patterns come from stored policies, so there are few; every request matches several, and
// reading a pattern into tokens at each match was most of a match's cost. Two maps: a pattern
// spelt as a parts key must not lend its wildcards to a literal part.
const ofPatterns = new Map<string, WildTokens>();
const ofParts = new Map<string, WildTokens>();

function cached(map: Map<string, WildTokens>, key: string, tokens: () => WildTokens): WildTokens {
  let t = map.get(key);
  if (t === undefined) {
    t = tokens();
    if (map.size >= 10_000) map.clear();
    map.set(key, t);
  }
  return t;
}
