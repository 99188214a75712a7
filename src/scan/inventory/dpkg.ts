/**
 * Debian and Ubuntu packages: /var/lib/dpkg/status, and the one-file-per-package
 * /var/lib/dpkg/status.d/ that distroless images use instead.
 */
import type { ScanLimits } from '../layers/limits.js';
import { parseDeb822 } from './control.js';
import { osEcosystem } from './ecosystems.js';
import type { Extractor, Package } from './types.js';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;

export const dpkgExtractor: Extractor = {
  name: 'dpkg',
  rules: (limits: ScanLimits) => [
    {
      id: 'dpkg',
      match: (p) => p === STATUS || (STATUS_D.test(p) && !p.endsWith('.md5sums')),
      maxBytes: limits.maxTextFileBytes,
    },
  ],
  extract({ view, os }) {
    const ecosystem = osEcosystem(os, 'dpkg');
    const out: Package[] = [];
    for (const f of view.files((p) => p === STATUS || STATUS_D.test(p))) {
      if (f.path.endsWith('.md5sums')) continue;
      // status.d stanzas carry no Status field: their presence means installed.
      const requireStatus = f.path === STATUS;
      for (const s of parseDeb822(f.data.toString('utf8'))) {
        if (requireStatus && !isInstalled(s.status)) continue;
        const name = s.package;
        const version = s.version;
        if (!name || !version) continue;
        const src = parseSource(s.source);
        // Policy §5.6.1: Source may be omitted when the source package has the binary's name
        // and version; advisories are keyed by source package, so fill it in.
        out.push({ ecosystem, name, version, sourceName: src?.name ?? name, sourceVersion: src?.version ?? version, path: f.path });
      }
    }
    return out;
  },
};

/**
 * "want flag status": only the status word says whether files are on disk; "hold ok installed"
 * is as installed as "install ok installed", while "deinstall ok config-files" is not.
 */
function isInstalled(status: string | undefined): boolean {
  const w = status?.split(/\s+/) ?? [];
  return w.length === 3 && w[1] === 'ok' && w[2] === 'installed';
}

/** "glibc (2.36-9+deb12u4)" or just "glibc". */
function parseSource(field: string | undefined): { name: string; version?: string } | undefined {
  if (!field) return undefined;
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(field.trim());
  return m ? { name: m[1]!, version: m[2]?.trim() } : undefined;
}
