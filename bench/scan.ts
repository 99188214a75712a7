/**
 * Scanner figures (`npm run bench:scan`): (1) time and peak memory to inventory a Debian image —
 * a gzip layer packed from this Debian machine's own root file system (its real dpkg database,
 * /etc, /usr/share/doc, /usr/sbin; about the size of a Debian base image); (2) the re-evaluation
 * rate after an advisory import: 10,000 stored inventories of ~300 packages each, every one read
 * from the metadata store, matched and written back, as the continuous-scanning job does. No
 * reference registry scans, so these figures stand alone.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { openRegistry } from '../src/app/app.js';
import { loadConfig } from '../src/config/load.js';
import { registryKey } from '../src/core/registry-key.js';
import { AdvisoryCatalog } from '../src/scan/catalog.js';
import { inventoryOf } from '../src/scan/inventory/inventory.js';
import type { Inventory, Package } from '../src/scan/inventory/types.js';
import { ScanPool } from '../src/scan/pool/scan-pool.js';
import { Scanner } from '../src/scan/scanner.js';

const run = promisify(execFile);
const quick = process.env.BENCH_QUICK === '1';
const INVENTORIES = quick ? 1000 : 10_000;
const MiB = 1024 * 1024;

async function debianScan(work: string): Promise<void> {
  const layer = join(work, 'debian.tar.gz');
  const paths = ['etc', 'usr/lib/os-release', 'var/lib/dpkg', 'usr/share/doc', 'usr/sbin'];
  await run('tar', ['-czf', layer, '-C', '/', '--ignore-failed-read', '--warning=no-file-changed', ...paths]).catch((e: { code?: number }) => {
    if (e.code !== 1) throw e; // 1: some files changed or were unreadable, which is fine here
  });
  const size = (await stat(layer)).size;
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t = performance.now();
  const inventory = await inventoryOf([createReadStream(layer)]);
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(
    `debian image scan: ${(size / MiB).toFixed(1)} MiB gzip layer, ${inventory.packages.length} packages (${inventory.os?.prettyName ?? 'no os'}): ` +
      `${seconds.toFixed(2)} s, peak RSS ${(peak / MiB).toFixed(0)} MB (+${((peak - rssBefore) / MiB).toFixed(0)} MB over the idle process)`,
  );
}

/** Packages of this machine, to build plausible inventories and advisories from. */
async function hostPackages(): Promise<Package[]> {
  const status = await readFile('/var/lib/dpkg/status', 'utf8');
  const out: Package[] = [];
  for (const stanza of status.split('\n\n')) {
    const name = /^Package: (\S+)/m.exec(stanza)?.[1];
    const version = /^Version: (\S+)/m.exec(stanza)?.[1];
    const src = /^Source: (\S+)(?: \((\S+)\))?/m.exec(stanza);
    if (!name || !version || !/^Status: install ok installed/m.test(stanza)) continue;
    out.push({ ecosystem: 'Debian:12', name, version, sourceName: src?.[1] ?? name, sourceVersion: src?.[2] ?? version, path: 'var/lib/dpkg/status' });
  }
  return out;
}

async function reevaluation(work: string): Promise<void> {
  const dataDir = await mkdtemp(join(work, 'reeval-'));
  const config = loadConfig({ flags: { dataDir, logLevel: 'warn' } });
  const registry = await openRegistry(config);
  const key = registryKey(config.defaultAccountId, config.region);
  const repo = await registry.repositories.create({ registryKey: key, name: 'bench/fleet' });
  await registry.config.setScanning(key, {
    scanType: 'ENHANCED',
    rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }] }],
  });
  const pkgs = await hostPackages();
  // One advisory per third of the source packages: half fixed after the installed version.
  const advisories = pkgs
    .filter((_, i) => i % 3 === 0)
    .map((p, i) => ({
      id: `BENCH-${i}`,
      modified: new Date('2026-01-01T00:00:00Z'),
      document: JSON.stringify({
        id: `BENCH-${i}`,
        modified: '2026-01-01T00:00:00Z',
        summary: `${p.sourceName} issue`,
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: p.sourceName },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: i % 2 === 0 ? `${p.sourceVersion}+1` : '0.1' }] }],
          },
        ],
      }),
    }));
  await registry.ctx.meta.scans.putAdvisories('bench', advisories, new Date());
  seedInventories(join(dataDir, 'metadata.db'), repo.id, pkgs);
  const scanner = new Scanner(registry, new AdvisoryCatalog(registry.ctx.meta.scans), new ScanPool({ size: 1 }));
  const pass = async (label: string) => {
    const t = performance.now();
    const { inventories, updated } = await scanner.reevaluate(new AbortController().signal);
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `re-evaluation, ${label}: ${inventories} stored inventories of ~300 packages against ${advisories.length} advisories in ${seconds.toFixed(2)} s = ` +
        `${(inventories / seconds).toFixed(0)} inventories/s, ${updated} findings rewritten`,
    );
  };
  await pass('first (every image gets findings)');
  // The case the issue names: one more advisory arrives, touching a tenth of the images.
  const sourceCount = new Map<string, number>();
  for (const p of pkgs) sourceCount.set(p.sourceName!, (sourceCount.get(p.sourceName!) ?? 0) + 1);
  const hit = pkgs.find((p, j) => j >= 200 && sourceCount.get(p.sourceName!) === 1)!;
  await registry.ctx.meta.scans.putAdvisories(
    'bench-2',
    [
      {
        id: 'BENCH-NEW',
        modified: new Date(),
        document: JSON.stringify({
          id: 'BENCH-NEW',
          modified: new Date().toISOString(),
          affected: [{ package: { ecosystem: 'Debian:12', name: hit.sourceName }, versions: [hit.sourceVersion] }],
        }),
      },
    ],
    new Date(Date.now() + 1000),
  );
  await pass('after importing one more advisory');
  await registry.close();
}

function seedInventories(path: string, repositoryId: number, pkgs: Package[]): void {
  const db = new Database(path);
  const now = Date.now();
  const manifest = db.prepare(
    "INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at) VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', 2, ?, ?)",
  );
  const scan = db.prepare(
    "INSERT INTO image_scans (repository_id, digest, status, description, started_at, completed_at) VALUES (?, ?, 'COMPLETE', 'done', ?, ?)",
  );
  const inv = db.prepare('INSERT INTO package_inventories (digest, inventory, created_at) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < INVENTORIES; i++) {
      const digest = 'sha256:' + createHash('sha256').update(`image ${i}`).digest('hex');
      // ~300 packages: a shared base plus a per-image slice, as images built on common bases look.
      const chosen = pkgs.filter((_, j) => j < 200 || (j + i) % 6 === 0).slice(0, 300);
      const inventory: Inventory = {
        os: { id: 'debian', versionId: '12', name: 'Debian GNU/Linux', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
        packages: chosen,
      };
      manifest.run(repositoryId, digest, Buffer.from('{}'), now);
      scan.run(repositoryId, digest, now, now);
      inv.run(digest, JSON.stringify(inventory), now);
    }
  })();
  db.close();
}

async function main(): Promise<void> {
  const work = resolve('bench/.work');
  await mkdir(work, { recursive: true });
  const dir = await mkdtemp(join(work, 'scan-'));
  try {
    await debianScan(dir);
    await reevaluation(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
