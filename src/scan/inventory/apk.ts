/** Alpine (and Wolfi/Chainguard) packages from apk's installed database. */
import type { ScanLimits } from '../layers/limits.js';
import { parseApkDb } from './control.js';
import { osEcosystem } from './ecosystems.js';
import type { Extractor, Package } from './types.js';

// apk-tools 3 may place the database under /usr with the /usr merge; both are read.
const PATHS = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'];

export const apkExtractor: Extractor = {
  name: 'apk',
  rules: (limits: ScanLimits) => [{ id: 'apk', match: (p) => PATHS.includes(p), maxBytes: limits.maxTextFileBytes }],
  extract({ view, os }) {
    const ecosystem = osEcosystem(os, 'apk');
    const out: Package[] = [];
    for (const f of view.files((p) => PATHS.includes(p))) {
      for (const s of parseApkDb(f.data.toString('utf8'))) {
        if (!s.P || !s.V) continue;
        // Alpine's secdb is keyed by origin (the aport), and subpackages share its version.
        out.push({ ecosystem, name: s.P, version: s.V, sourceName: s.o ?? s.P, sourceVersion: s.V, path: f.path });
      }
    }
    return out;
  },
};
