/**
 * The one wildcard matcher behind IAM's globs (`*` any run, `?` one character) and ECR's filters
 * (`*` only). Patterns come from users (policies, tag-immutability and scanning filters) and
 * values partly from requests, so the match must not backtrack: a RegExp `^.*a.*a.*a.*a.*b$`
 * costs V8 seconds against a 250-character ARN and doubles its cost with each `*`. This one keeps
 * only the last `*` to return to, so it takes at most |pattern| × |value| steps, whatever the input.
 */

/** One character of a pattern: a literal (one code point), or one of the two wildcards. */
export type WildToken = string | typeof ANY_ONE | typeof ANY_RUN;
export const ANY_ONE = 1;
export const ANY_RUN = 2;

/** `*` any run; `?` one character where `question` is set (IAM), a literal otherwise (ECR). */
export function wildcardTokens(pattern: string, question: boolean): WildToken[] {
  const tokens: WildToken[] = [];
  for (const c of pattern) {
    if (c === '*') tokens.push(ANY_RUN);
    else if (c === '?' && question) tokens.push(ANY_ONE);
    // By character (code point): IAM's `?` is one character, also outside the BMP.
    else tokens.push(c);
  }
  return tokens;
}

/** Whether the whole of `value` matches, character by character; `ignoreCase` folds each as `toLowerCase` does. */
export function tokensMatch(tokens: readonly WildToken[], value: string, ignoreCase = false): boolean {
  return tokensMatchCounted(tokens, value, ignoreCase).matched;
}

/** The match and the steps it took (for the test of the bound). */
export function tokensMatchCounted(tokens: readonly WildToken[], text: string, ignoreCase = false): { matched: boolean; steps: number } {
  const value = Array.from(text);
  const same = ignoreCase ? (t: string, c: string) => t === c || t.toLowerCase() === c.toLowerCase() : (t: string, c: string) => t === c;
  let p = 0;
  let v = 0;
  // The last `*` seen and where in the value its run now ends: a later mismatch only lengthens
  // that run by one, since any earlier `*` can be matched by the same choice.
  let star = -1;
  let starV = 0;
  let steps = 0;
  while (v < value.length) {
    steps++;
    const t = tokens[p];
    if (t === ANY_RUN) {
      star = p++;
      starV = v;
    } else if (t !== undefined && (t === ANY_ONE || same(t, value[v]!))) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++starV;
    } else {
      return { matched: false, steps };
    }
  }
  while (tokens[p] === ANY_RUN) p++;
  return { matched: p === tokens.length, steps };
}
