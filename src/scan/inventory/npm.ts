/**
 * npm packages from lockfiles (package-lock.json / npm-shrinkwrap.json, lockfileVersion 1–3)
 * outside node_modules, and from installed node_modules/<name>/package.json. Lockfile
 * entries marked dev are left out: production images install with --omit=dev, and the
 * installed package.json files report whatever is really there.
 */
import type { ScanLimits } from '../layers/limits.js';
import type { Extractor, Package } from './types.js';

const LOCKFILE = /(^|\/)(package-lock|npm-shrinkwrap)\.json$/;
const INSTALLED = /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*\/package\.json$/;

const isLockfile = (p: string) => LOCKFILE.test(p) && !p.includes('node_modules/');

export const npmExtractor: Extractor = {
  name: 'npm',
  rules: (limits: ScanLimits) => [{ id: 'npm', match: (p) => isLockfile(p) || INSTALLED.test(p), maxBytes: limits.maxTextFileBytes }],
  extract({ view }) {
    const out: Package[] = [];
    for (const f of view.files((p) => isLockfile(p) || INSTALLED.test(p))) {
      const json = parseJson(f.data);
      if (!isObject(json)) continue;
      if (isLockfile(f.path)) out.push(...lockfilePackages(json, f.path));
      else if (typeof json.name === 'string' && typeof json.version === 'string' && json.name && json.version) {
        out.push({ ecosystem: 'npm', name: json.name, version: json.version, path: f.path });
      }
    }
    return out;
  },
};

export function lockfilePackages(lock: Record<string, unknown>, path: string): Package[] {
  const out: Package[] = [];
  // v2 carries both shapes; `packages` is the complete one. v1 only has `dependencies`.
  if (isObject(lock.packages)) {
    for (const [key, v] of Object.entries(lock.packages)) {
      if (key === '' || !isObject(v) || v.link === true || v.dev === true) continue;
      const at = key.lastIndexOf('node_modules/');
      if (at < 0) continue; // a workspace folder, not an installed package
      const name = typeof v.name === 'string' ? v.name : key.slice(at + 'node_modules/'.length);
      if (typeof v.version === 'string' && v.version) out.push({ ecosystem: 'npm', name, version: v.version, path });
    }
    return out;
  }
  const walk = (deps: unknown, depth: number): void => {
    if (!isObject(deps) || depth > 64) return;
    for (const [name, v] of Object.entries(deps)) {
      if (!isObject(v) || v.dev === true || typeof v.version !== 'string') continue;
      const alias = /^npm:(.+)@([^@]+)$/.exec(v.version);
      if (alias) out.push({ ecosystem: 'npm', name: alias[1]!, version: alias[2]!, path });
      else if (!/^(file|link|git|git\+\w+|https?):/.test(v.version)) out.push({ ecosystem: 'npm', name, version: v.version, path });
      walk(v.dependencies, depth + 1);
    }
  };
  walk(lock.dependencies, 0);
  return out;
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
