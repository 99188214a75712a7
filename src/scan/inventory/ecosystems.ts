/**
 * OSV ecosystem names for OS packages (https://ossf.github.io/osv-schema/#affectedpackage-field).
 * The release part is what the distro's advisories are keyed by: Debian's major version,
 * Ubuntu's YY.MM, Alpine's vMAJOR.MINOR branch, an EL clone's major version.
 */
import type { OsInfo } from './types.js';

export type PackageFormat = 'dpkg' | 'apk' | 'rpm';

const FALLBACK: Record<PackageFormat, string> = { dpkg: 'Debian', apk: 'Alpine', rpm: 'Red Hat' };

export function osEcosystem(os: OsInfo | undefined, format: PackageFormat): string {
  if (!os) return FALLBACK[format];
  const v = os.versionId;
  const major = v.split('.')[0] ?? '';
  switch (os.id) {
    case 'debian':
      return v ? `Debian:${major}` : 'Debian';
    case 'ubuntu':
      return v ? `Ubuntu:${v}` : 'Ubuntu';
    case 'alpine': {
      const m = /^(\d+)\.(\d+)/.exec(v);
      return m ? `Alpine:v${m[1]}.${m[2]}` : 'Alpine';
    }
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    case 'rhel':
      return 'Red Hat';
    case 'almalinux':
      return v ? `AlmaLinux:${major}` : 'AlmaLinux';
    case 'rocky':
      return v ? `Rocky Linux:${major}` : 'Rocky Linux';
    case 'opensuse-leap':
      return v ? `openSUSE:Leap ${v}` : 'openSUSE';
    case 'mageia':
      return v ? `Mageia:${v}` : 'Mageia';
    case 'openeuler':
      return v ? `openEuler:${v}` : 'openEuler';
    default:
      // Not an OSV ecosystem; kept explicit so matching finds nothing rather than the wrong thing.
      return v ? `${os.id}:${v}` : os.id;
  }
}
