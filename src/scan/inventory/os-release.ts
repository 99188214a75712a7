/**
 * The operating system, from os-release(5): /etc/os-release, falling back to
 * /usr/lib/os-release (the spec's order; /etc/os-release is often a symlink to the other).
 */
import type { KeepRule } from '../layers/read-layers.js';
import type { ScanLimits } from '../layers/limits.js';
import type { MergedView } from '../layers/view.js';
import type { OsInfo } from './types.js';

const PATHS = ['etc/os-release', 'usr/lib/os-release'];
/** Debian testing/sid ship no VERSION_ID; debian_version still names the release. */
const DEBIAN_VERSION = 'etc/debian_version';

export function osReleaseRules(limits: ScanLimits): KeepRule[] {
  return [{ id: 'os-release', match: (p) => PATHS.includes(p) || p === DEBIAN_VERSION, maxBytes: Math.min(limits.maxTextFileBytes, 64 * 1024) }];
}

export function detectOs(view: MergedView): OsInfo | undefined {
  for (const p of PATHS) {
    const data = view.read(p);
    if (!data) continue;
    const f = parseOsRelease(data.toString('utf8'));
    if (!f.ID) continue;
    let versionId = f.VERSION_ID ?? '';
    if (!versionId && f.ID === 'debian') {
      const dv = view.read(DEBIAN_VERSION)?.toString('utf8').trim() ?? '';
      if (/^\d+(\.\d+)*$/.test(dv)) versionId = dv.split('.')[0]!;
    }
    return { id: f.ID, versionId, name: f.NAME ?? f.ID, prettyName: f.PRETTY_NAME ?? f.NAME ?? f.ID };
  }
  return undefined;
}

/** KEY=value lines; values may be quoted with " or ' and use shell-style backslash escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]!] = unquote(m[2]!);
  }
  return out;
}

function unquote(v: string): string {
  const q = v[0];
  if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) {
    const inner = v.slice(1, -1);
    return q === '"' ? inner.replace(/\\([$"\\`])/g, '$1') : inner;
  }
  return v;
}
