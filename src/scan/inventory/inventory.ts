/**
 * The image-reading half of the scanner: layers in, package inventory out. Layers are read
 * once, lowest first, as streams (design decision 1); every extractor declares up front which
 * files it needs kept or probed, then reads the merged view.
 *
 * Outcomes map to ECR scan statuses: an Inventory (COMPLETE once matched against advisories),
 * UnsupportedImageError (UNSUPPORTED_IMAGE: no OS and no package found), any other ScanError
 * (FAILED: corrupt layer, limit exceeded, aborted, a package database too large to read).
 */
import { ScanError, ScanLimitError, UnsupportedImageError, toScanError } from '../layers/errors.js';
import { resolveLimits, type ScanLimits } from '../layers/limits.js';
import { readLayers, type LayerSource } from '../layers/read-layers.js';
import { apkExtractor } from './apk.js';
import { dpkgExtractor } from './dpkg.js';
import { goExtractor } from './go-binary.js';
import { javaExtractor } from './java.js';
import { npmExtractor } from './npm.js';
import { detectOs, osReleaseRules } from './os-release.js';
import { pythonExtractor } from './python.js';
import { rpmExtractor } from './rpm.js';
import { rubyExtractor } from './ruby.js';
import type { Extractor, Inventory, Package } from './types.js';

export const defaultExtractors: readonly Extractor[] = [
  dpkgExtractor,
  apkExtractor,
  rpmExtractor,
  npmExtractor,
  pythonExtractor,
  rubyExtractor,
  javaExtractor,
  goExtractor,
];

export async function inventoryOf(
  layers: LayerSource,
  limits?: Partial<ScanLimits>,
  signal?: AbortSignal,
  extractors: readonly Extractor[] = defaultExtractors,
): Promise<Inventory> {
  const resolved = resolveLimits(limits);
  const view = await readLayers(layers, {
    limits: resolved,
    signal,
    rules: [...osReleaseRules(resolved), ...extractors.flatMap((e) => e.rules?.(resolved) ?? [])],
    probers: extractors.flatMap((e) => e.probers?.(resolved) ?? []),
  });
  try {
    signal?.throwIfAborted();
    // A package database too large to read would make the inventory silently incomplete, and
    // padding one is an easy way to hide packages from the scanner: fail instead. Oversized
    // files in lower layers that were deleted or replaced do not count.
    for (const f of view.oversized()) {
      throw new ScanLimitError('fileSize', f.maxBytes, `${f.path} (${f.size} bytes) exceeds the ${f.rule} size limit of ${f.maxBytes} bytes`);
    }
    const os = detectOs(view);
    const packages = dedupe(extractors.flatMap((e) => e.extract({ view, os })));
    if (!os && packages.length === 0) throw new UnsupportedImageError();
    return os ? { os, packages } : { packages };
  } catch (e) {
    if (e instanceof ScanError) throw e;
    throw toScanError(e, signal);
  }
}

/** Exact duplicates only (e.g. a hard-linked status file); same package at two paths stays. */
function dedupe(pkgs: Package[]): Package[] {
  const seen = new Map<string, Package>();
  for (const p of pkgs) {
    const k = [p.ecosystem, p.name, p.version, p.path].join('\0');
    if (!seen.has(k)) seen.set(k, p);
  }
  return [...seen.values()].sort((a, b) => cmp(a.ecosystem, b.ecosystem) || cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.path, b.path));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
