/**
 * How an inventory's (ecosystem, package name) meets an advisory's `affected[].package`.
 *
 * Ecosystems: OSV scopes distribution advisories to a release with a suffix ("Debian:12",
 * "Alpine:v3.19", "Ubuntu:22.04:LTS"). An OS package must match the image's release, so an
 * affected entry applies when the bases agree and either the entry has no suffix (it
 * applies to every release) or its normalized release equals the inventory's. An inventory
 * without a release therefore only meets unscoped entries: guessing the release would
 * report another release's fixes. Releases are normalized per distribution so the scanner
 * may pass what /etc/os-release says ("12.5" -> "12", "3.19.1" -> "3.19", "22.04" matches
 * "22.04:LTS"). Ubuntu Pro ("Pro:18.04:LTS") stays distinct from the plain release: its
 * fixes are not in the public archive.
 *
 * Names: compared after the ecosystem's own normalization (PEP 503 for PyPI; crates.io,
 * Packagist, NuGet, Hex, Pub and Debian/Ubuntu names are case-insensitive; the rest exact).
 */

import { splitEcosystem } from '../versions/registry.js';

export interface EcosystemScope {
  /** OSV spelling of the ecosystem ("Debian"). */
  base: string;
  /** Normalized release ("12"), or "" when the ecosystem string had none. */
  release: string;
}

function majorOnly(release: string): string {
  const m = /^(\d+)(?:\.\d+)*$/.exec(release);
  return m ? m[1]! : release.toLowerCase();
}

function normalizeRelease(base: string, suffix: string): string {
  if (suffix === '') return '';
  switch (base) {
    case 'Debian':
    case 'AlmaLinux':
    case 'Rocky Linux':
      return majorOnly(suffix);
    case 'Alpine': {
      const m = /^v?(\d+)\.(\d+)(?:\.\d+)*$/i.exec(suffix);
      return m ? `${m[1]}.${m[2]}` : suffix.toLowerCase();
    }
    case 'Ubuntu':
      return suffix
        .split(':')
        .filter((p) => p.toUpperCase() !== 'LTS')
        .map((p) => p.toLowerCase())
        .join(':');
    default:
      return suffix;
  }
}

export function ecosystemScope(ecosystem: string): EcosystemScope {
  const { base, suffix } = splitEcosystem(ecosystem);
  return { base, release: normalizeRelease(base, suffix) };
}

/** Whether an advisory's affected ecosystem applies to an inventory's ecosystem. */
export function scopeApplies(affected: EcosystemScope, inventory: EcosystemScope): boolean {
  return affected.base === inventory.base && (affected.release === '' || affected.release === inventory.release);
}

const CASE_INSENSITIVE = new Set(['Packagist', 'NuGet', 'Hex', 'Pub', 'Debian', 'Ubuntu']);

/** A package name in the form two names of the same package share in `ecosystemBase`. */
export function normalizePackageName(ecosystemBase: string, name: string): string {
  const n = name.trim();
  if (ecosystemBase === 'PyPI') return n.toLowerCase().replace(/[-_.]+/g, '-');
  // crates.io refuses names that differ only in case or in '-' versus '_'.
  if (ecosystemBase === 'crates.io') return n.toLowerCase().replaceAll('_', '-');
  if (CASE_INSENSITIVE.has(ecosystemBase)) return n.toLowerCase();
  return n;
}

/** The OS ecosystems whose packages come from a distribution (their ratings take precedence). */
const DISTRIBUTIONS = new Set([
  'Debian',
  'Ubuntu',
  'Echo',
  'Alpine',
  'Wolfi',
  'Chainguard',
  'Alpaquita',
  'BellSoft Hardened Containers',
  'MinimOS',
  'Red Hat',
  'AlmaLinux',
  'Rocky Linux',
  'openSUSE',
  'SUSE',
  'Mageia',
  'openEuler',
  'Photon OS',
]);

export function isDistribution(ecosystemBase: string): boolean {
  return DISTRIBUTIONS.has(ecosystemBase);
}
