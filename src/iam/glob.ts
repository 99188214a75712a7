/** IAM's glob: `*` any run, `?` one character. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return globRegExp(pattern, ignoreCase).test(value);
}

// Patterns come from stored policies, so there are few; compiling one per check showed in profiles.
const compiled = new Map<string, RegExp>();

function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  const key = (ignoreCase ? 'i:' : 's:') + pattern;
  let re = compiled.get(key);
  if (re === undefined) {
    re = new RegExp(
      '^' +
        pattern
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
      ignoreCase ? 'is' : 's',
    );
    if (compiled.size >= 10_000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}
