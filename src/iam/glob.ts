/** IAM's glob: `*` any run of characters, `?` one character (a code point); matched without backtracking (core/wildcard.ts). */
import { tokensMatch, wildcardTokens, type WildToken } from '../core/wildcard.js';
import type { Part } from './variables.js';

export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return tokensMatch(wildcardTokens(pattern, true), value, ignoreCase);
}

/** A pattern whose literal parts (substituted policy variables) match only themselves. */
export function globMatchParts(parts: readonly Part[], value: string): boolean {
  const tokens: WildToken[] = [];
  for (const p of parts) tokens.push(...(p.literal ? Array.from(p.text) : wildcardTokens(p.text, true)));
  return tokensMatch(tokens, value);
}
