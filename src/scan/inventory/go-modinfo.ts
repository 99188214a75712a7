/**
 * Go module info, the text `go version -m` prints, into OSV "Go" packages. Format per Go's
 * runtime/debug.ParseBuildInfo: tab-separated lines `path`, `mod`, `dep`, and `=>` (a replace
 * of the module on the line before).
 */
import type { Package } from './types.js';

export interface GoModule {
  path: string;
  version: string;
}

export interface GoBuildInfo {
  /** As the binary says, e.g. "go1.21.5" or "go1.22.1 X:boringcrypto". */
  goVersion: string;
  path?: string;
  main?: GoModule;
  deps: GoModule[];
}

export function parseModinfo(goVersion: string, mod: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [] };
  let last: GoModule | undefined;
  for (const line of mod.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'path':
        info.path = f[1];
        break;
      case 'mod':
        last = info.main = { path: f[1] ?? '', version: f[2] ?? '' };
        break;
      case 'dep':
        last = { path: f[1] ?? '', version: f[2] ?? '' };
        info.deps.push(last);
        break;
      case '=>':
        // The replacement is what was compiled in; a local directory replace has no version.
        if (last) {
          last.path = f[1] ?? '';
          last.version = f[2] ?? '';
        }
        break;
    }
  }
  return info;
}

/** OSV's Go ecosystem writes versions without the leading "v"; so does its "stdlib" package. */
export function goPackages(info: GoBuildInfo, path: string): Package[] {
  const out: Package[] = [];
  const std = /^go(\d+(?:\.\d+){0,2}(?:(?:rc|beta)\d+)?)/.exec(info.goVersion.trim());
  if (std) out.push({ ecosystem: 'Go', name: 'stdlib', version: std[1]!, path });
  const mods = info.main ? [info.main, ...info.deps] : info.deps;
  for (const m of mods) {
    // "(devel)" is a main module built from a checkout: there is no version to match.
    if (!m.path || !m.version || m.version === '(devel)') continue;
    out.push({ ecosystem: 'Go', name: m.path, version: m.version.replace(/^v/, ''), path });
  }
  return out;
}
