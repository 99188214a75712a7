/**
 * Ruby gems from the specifications directories of gem homes (e.g.
 * usr/local/bundle/specifications, usr/lib/ruby/gems/3.2.0/specifications[/default]). RubyGems
 * names each file <name>-<version>[-<platform>].gemspec, so only the name is needed: the file
 * is kept with zero bytes, as a marker that it exists in the merged view.
 */
import type { Extractor, Package } from './types.js';

const PATTERN = /(^|\/)specifications\/(default\/)?[^/]+\.gemspec$/;

export const rubyExtractor: Extractor = {
  name: 'ruby',
  rules: () => [{ id: 'gemspec', match: (p) => PATTERN.test(p), maxBytes: 0, prefixOnly: true }],
  extract({ view }) {
    const out: Package[] = [];
    for (const f of view.files((p) => PATTERN.test(p))) {
      const g = parseGemspecName(f.path.slice(f.path.lastIndexOf('/') + 1));
      if (g) out.push({ ecosystem: 'RubyGems', name: g.name, version: g.version, path: f.path });
    }
    return out;
  },
};

/** Gem names may contain '-' but no part of them starts with a digit, as versions do. */
export function parseGemspecName(file: string): { name: string; version: string } | undefined {
  const parts = file.replace(/\.gemspec$/, '').split('-');
  const i = parts.findIndex((p, idx) => idx > 0 && /^\d/.test(p));
  if (i < 1) return undefined;
  return { name: parts.slice(0, i).join('-'), version: parts[i]! };
}
