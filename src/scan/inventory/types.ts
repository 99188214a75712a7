/**
 * The inventory: what an image is made of, in the vocabulary vulnerability databases use
 * (OSV ecosystem names), so matching needs no translation. Paths are relative to the image
 * root without a leading slash (`var/lib/dpkg/status`); a file inside an archive is written
 * `outer.jar!inner/path`.
 */
import type { MergedView } from '../layers/view.js';
import type { KeepRule, Prober } from '../layers/read-layers.js';
import type { ScanLimits } from '../layers/limits.js';

export interface OsInfo {
  /** os-release ID, e.g. "debian", "alpine", "rhel". */
  id: string;
  versionId: string;
  name: string;
  prettyName: string;
}

export interface Package {
  /** OSV ecosystem: "Debian:12", "Alpine:v3.19", "npm", "PyPI", "Go", "Maven", ... */
  ecosystem: string;
  name: string;
  version: string;
  /** Distro source package (dpkg Source, apk origin, rpm SOURCERPM), what advisories name. */
  sourceName?: string;
  sourceVersion?: string;
  /** Where the package was found. */
  path: string;
}

export interface Inventory {
  os?: OsInfo;
  packages: Package[];
}

/** What an extractor needs to know while reading the merged view. */
export interface ExtractContext {
  view: MergedView;
  os?: OsInfo;
}

/**
 * One source of packages. Rules and probers are declared up front because the layers are read
 * once, as streams: a file nobody asked for is gone by the time extraction runs.
 */
export interface Extractor {
  readonly name: string;
  rules?(limits: ScanLimits): KeepRule[];
  probers?(limits: ScanLimits): Prober[];
  extract(ctx: ExtractContext): Package[];
}
