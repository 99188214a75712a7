/**
 * Stanza files: Debian control syntax (deb822: "Field: value", continuation lines start with
 * a space or tab, stanzas separated by blank lines) and apk's installed db ("K:value").
 */

/** Debian field names are case-insensitive; keys come back lower-cased. */
export function parseDeb822(text: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  let cur: Record<string, string> = {};
  const flush = (): void => {
    if (Object.keys(cur).length > 0) out.push(cur);
    cur = {};
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t' || line[0] === '#') continue; // continuation or comment
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    cur[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  flush();
  return out;
}

/** apk's installed db: one-letter keys, case-sensitive (P: name, V: version, o: origin ...). */
export function parseApkDb(text: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  let cur: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(cur).length > 0) out.push(cur);
      cur = {};
      continue;
    }
    if (line[1] !== ':') continue;
    // Only the first occurrence matters for the fields read; file lists (F:/R:) repeat.
    cur[line[0]!] ??= line.slice(2).trim();
  }
  if (Object.keys(cur).length > 0) out.push(cur);
  return out;
}
