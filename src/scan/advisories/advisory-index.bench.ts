/**
 * Micro-benchmark for AdvisoryIndex: import a synthetic advisory database, then re-evaluate
 * 10,000 stored inventories of ~300 packages each (the work after an advisory import).
 * Not a test; run by hand:
 *
 *   npx tsc -p . && node dist/src/scan/advisories/advisory-index.bench.js [inventories] [advisories]
 *
 * The data is synthetic but shaped like OSV's: per-release Debian advisories keyed by source
 * package with epoch/tilde versions, npm SEMVER ranges, PyPI ranges plus versions lists.
 * Two fleets: "stress" draws every package version at random (no two images alike, ~800
 * findings each: the worst case for the index's caches); "registry" builds images on 40
 * base images with application packages drawn from a popular set, as real registries look.
 * A seeded generator keeps runs comparable.
 */

import { performance } from 'node:perf_hooks';
import { AdvisoryIndex, type InventoryPackage } from './advisory-index.js';
import { type OsvAdvisory, validateOsv } from './osv.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (n: number) => Math.floor(rand() * n);

const DEB_PACKAGES = Array.from({ length: 2500 }, (_, i) => `deb-src-${i}`);
const NPM_PACKAGES = Array.from({ length: 20000 }, (_, i) => `npm-pkg-${i}`);
const PYPI_PACKAGES = Array.from({ length: 8000 }, (_, i) => `PyPI_Pkg.${i}`);

const debVersion = (n: number) => `${n % 3 === 0 ? '1:' : ''}${1 + (n % 7)}.${n % 13}.${n % 5}-${1 + (n % 4)}~deb12u${n % 6}`;

function advisories(count: number): OsvAdvisory[] {
  const out: OsvAdvisory[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    let affected: unknown[];
    if (kind < 5) {
      const name = pick(DEB_PACKAGES);
      affected = ['Debian:11', 'Debian:12'].map((ecosystem) => ({
        package: { ecosystem, name },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: debVersion(int(500)) }] }],
      }));
    } else if (kind < 8) {
      affected = [
        {
          package: { ecosystem: 'npm', name: pick(NPM_PACKAGES) },
          ranges: [{ type: 'SEMVER', events: [{ introduced: `${int(3)}.0.0` }, { fixed: `${int(5)}.${int(20)}.${int(10)}` }] }],
        },
      ];
    } else {
      const versions = Array.from({ length: 20 }, (_, k) => `1.${k}.0`);
      affected = [
        {
          package: { ecosystem: 'PyPI', name: pick(PYPI_PACKAGES).toLowerCase() },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { fixed: `1.${int(20)}.1` }] }],
          versions,
        },
      ];
    }
    const r = validateOsv({
      id: `BENCH-${i}`,
      modified: '2024-01-01T00:00:00Z',
      aliases: [`CVE-2024-${i}`],
      summary: 'synthetic',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N' }],
      affected,
    });
    if (!r.ok) throw new Error(r.error);
    out.push(r.advisory);
  }
  return out;
}

function stressInventory(): InventoryPackage[] {
  const pkgs: InventoryPackage[] = [];
  for (let k = 0; k < 150; k++) {
    const src = pick(DEB_PACKAGES);
    pkgs.push({ ecosystem: 'Debian:12', name: `${src}-bin`, version: debVersion(int(500)), sourceName: src });
  }
  for (let k = 0; k < 100; k++) pkgs.push({ ecosystem: 'npm', name: pick(NPM_PACKAGES), version: `${int(4)}.${int(20)}.${int(10)}` });
  for (let k = 0; k < 50; k++) pkgs.push({ ecosystem: 'PyPI', name: pick(PYPI_PACKAGES), version: `1.${int(25)}.${int(3)}` });
  return pkgs;
}

const BASES = Array.from({ length: 40 }, () =>
  Array.from({ length: 150 }, () => {
    const src = pick(DEB_PACKAGES);
    return { name: `${src}-bin`, version: debVersion(int(500)), sourceName: src };
  }),
);
const POPULAR_NPM = Array.from({ length: 3000 }, () => ({ name: pick(NPM_PACKAGES), version: `${int(4)}.${int(20)}.${int(10)}` }));
const POPULAR_PYPI = Array.from({ length: 800 }, () => ({ name: pick(PYPI_PACKAGES), version: `1.${int(25)}.${int(3)}` }));

// Fresh objects and strings per image, as inventories read back from storage would be.
function registryInventory(): InventoryPackage[] {
  const pkgs: InventoryPackage[] = pick(BASES).map((p) => ({
    ecosystem: 'Debian:12',
    name: `${p.name}`,
    version: `${p.version}`,
    sourceName: `${p.sourceName}`,
  }));
  for (let k = 0; k < 100; k++) {
    const p = pick(POPULAR_NPM);
    pkgs.push({ ecosystem: 'npm', name: `${p.name}`, version: `${p.version}` });
  }
  for (let k = 0; k < 50; k++) {
    const p = pick(POPULAR_PYPI);
    pkgs.push({ ecosystem: 'PyPI', name: `${p.name}`, version: `${p.version}` });
  }
  return pkgs;
}

const nInventories = Number(process.argv[2] ?? 10_000);
const nAdvisories = Number(process.argv[3] ?? 50_000);

const advs = advisories(nAdvisories);
for (const [fleet, make] of [
  ['stress', stressInventory],
  ['registry', registryInventory],
] as const) {
  const inventories = Array.from({ length: nInventories }, make);
  const idx = new AdvisoryIndex();
  let t0 = performance.now();
  for (const a of advs) idx.add(a);
  const importMs = performance.now() - t0;
  for (let pass = 1; pass <= 2; pass++) {
    t0 = performance.now();
    let findings = 0;
    for (const inv of inventories) findings += idx.match(inv).length;
    const ms = performance.now() - t0;
    console.log(
      `${fleet} pass ${pass}: ${nInventories} inventories x 300 packages in ${ms.toFixed(0)} ms ` +
        `(${((nInventories / ms) * 1000).toFixed(0)} inventories/s, ${((nInventories * 300) / ms / 1000).toFixed(2)} M packages/s), ` +
        `${(findings / nInventories).toFixed(0)} findings per inventory`,
    );
  }
  console.log(`${fleet}: ${idx.size} advisories added in ${importMs.toFixed(0)} ms; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
