/**
 * The one wildcard matcher behind IAM's globs (`*` any run, `?` one character) and ECR's filters
 * (`*` only). Patterns come from users (policies, tag-immutability and scanning filters) and
 * values partly from requests, so the match must not backtrack: a RegExp `^.*a.*a.*a.*a.*b$`
 * costs V8 seconds against a 250-character ARN and doubles its cost with each `*`. This one keeps
 * only the last `*` to return to, so it takes at most |pattern| × |value| steps, whatever the input.
 */

/**
 * A pattern as code points, each a literal character (≥ 0) or one of the two wildcards. Numbers,
 * read by index, so that the evaluator's every match (several per request) allocates nothing.
 */
export type WildTokens = readonly number[];
export const ANY_ONE = -1;
export const ANY_RUN = -2;

/** `*` any run; `?` one character where `question` is set (IAM), a literal otherwise (ECR). */
export function wildcardTokens(pattern: string, question: boolean): number[] {
  const tokens: number[] = [];
  // By character (code point): IAM's `?` is one character, also outside the BMP.
  for (const c of pattern) tokens.push(c === '*' ? ANY_RUN : c === '?' && question ? ANY_ONE : c.codePointAt(0)!);
  return tokens;
}

/** The tokens of text that is literal throughout (a substituted policy variable). */
export function literalTokens(text: string): number[] {
  const tokens: number[] = [];
  for (const c of text) tokens.push(c.codePointAt(0)!);
  return tokens;
}

/** Whether the whole of `value` matches, character by character; `ignoreCase` folds each as `toLowerCase` does. */
export function tokensMatch(tokens: WildTokens, value: string, ignoreCase = false): boolean {
  return tokensMatchCounted(tokens, value, ignoreCase).matched;
}

/** Whether two characters are one when case is folded (ASCII without a string; the rest as `toLowerCase`). */
function sameFolded(a: number, b: number): boolean {
  if (a < 128 && b < 128) return (a | 0x20) === (b | 0x20) && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7a;
  return String.fromCodePoint(a).toLowerCase() === String.fromCodePoint(b).toLowerCase();
}

/** The match and the steps it took (for the test of the bound). */
export function tokensMatchCounted(tokens: WildTokens, value: string, ignoreCase = false): { matched: boolean; steps: number } {
  let p = 0;
  let v = 0; // an index into value's UTF-16 units, always at a character's start
  // The last `*` seen and where in the value its run now ends: a later mismatch only lengthens
  // that run by one character, since any earlier `*` can be matched by the same choice.
  let star = -1;
  let starV = 0;
  let steps = 0;
  while (v < value.length) {
    steps++;
    const t = p < tokens.length ? tokens[p]! : undefined;
    const c = value.codePointAt(v)!;
    if (t === ANY_RUN) {
      star = p++;
      starV = v;
    } else if (t !== undefined && (t === ANY_ONE || t === c || (ignoreCase && sameFolded(t, c)))) {
      p++;
      v += c > 0xffff ? 2 : 1;
    } else if (star >= 0) {
      p = star + 1;
      starV += value.codePointAt(starV)! > 0xffff ? 2 : 1;
      v = starV;
    } else {
      return { matched: false, steps };
    }
  }
  while (tokens[p] === ANY_RUN) p++;
  return { matched: p === tokens.length, steps };
}
