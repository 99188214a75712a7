/**
 * Which version ordering an OSV ecosystem uses.
 *
 * OSV ecosystem strings may carry a suffix after the first `:` ("Debian:12",
 * "Alpine:v3.19", "Ubuntu:22.04:LTS", "Red Hat:rhel_aus:8.4::appstream",
 * "Maven:https://maven.google.com"); the ordering depends only on the part before it.
 * Names are matched case-insensitively so an inventory that says "debian" still finds one.
 * An ecosystem we have no ordering for yields `undefined`: the caller can then only use an
 * advisory's explicit `versions` list (and SEMVER ranges, which carry their own ordering).
 */

import { apk } from './apk.js';
import { dpkg } from './dpkg.js';
import { maven } from './maven.js';
import type { VersionOrdering } from './ordering.js';
import { packagist } from './packagist.js';
import { pep440 } from './pep440.js';
import { rpm } from './rpm.js';
import { rubygems } from './rubygems.js';
import { semver } from './semver.js';

export type { Cmp, VersionOrdering } from './ordering.js';
export { apk, dpkg, maven, packagist, pep440, rpm, rubygems, semver };

// Canonical OSV spelling -> ordering. Distributions built on another's package manager use
// that manager's ordering (Wolfi and Chainguard ship apk packages; the RPM family rpmvercmp).
const BY_ECOSYSTEM: ReadonlyArray<[string, VersionOrdering]> = [
  ['Debian', dpkg],
  ['Ubuntu', dpkg],
  ['Echo', dpkg],
  ['Alpine', apk],
  ['Wolfi', apk],
  ['Chainguard', apk],
  ['Alpaquita', apk],
  ['BellSoft Hardened Containers', apk],
  ['MinimOS', apk],
  ['Red Hat', rpm],
  ['AlmaLinux', rpm],
  ['Rocky Linux', rpm],
  ['openSUSE', rpm],
  ['SUSE', rpm],
  ['Mageia', rpm],
  ['openEuler', rpm],
  ['Photon OS', rpm],
  ['npm', semver],
  ['Go', semver],
  ['crates.io', semver],
  ['Hex', semver],
  ['Pub', semver],
  ['SwiftURL', semver],
  ['PyPI', pep440],
  ['Maven', maven],
  ['RubyGems', rubygems],
  ['Packagist', packagist],
];

const LOOKUP = new Map(BY_ECOSYSTEM.map(([name, o]) => [name.toLowerCase(), { name, ordering: o }]));

export interface EcosystemName {
  /** The OSV spelling of the ecosystem ("Debian"), or the input's base as given if unknown. */
  base: string;
  /** Everything after the first ':' ("12", "v3.19", "22.04:LTS"), or "" when absent. */
  suffix: string;
  known: boolean;
}

export function splitEcosystem(ecosystem: string): EcosystemName {
  const colon = ecosystem.indexOf(':');
  const rawBase = (colon < 0 ? ecosystem : ecosystem.slice(0, colon)).trim();
  const suffix = colon < 0 ? '' : ecosystem.slice(colon + 1).trim();
  const hit = LOOKUP.get(rawBase.toLowerCase());
  return { base: hit ? hit.name : rawBase, suffix, known: hit !== undefined };
}

export function versionOrdering(ecosystem: string): VersionOrdering | undefined {
  const colon = ecosystem.indexOf(':');
  const base = (colon < 0 ? ecosystem : ecosystem.slice(0, colon)).trim().toLowerCase();
  return LOOKUP.get(base)?.ordering;
}
