/**
 * `berth gc [--dry-run]`: one full garbage-collection pass now against the data directory, with
 * the configured grace period and upload age (safe beside a running server: every decision is a
 * metadata transaction). `berth usage [--account-id ID]`: storage per repository and account.
 * Reports go to stdout; the pass logs each deleted blob to stderr.
 */
import { openRegistry } from '../app/app.js';
import { garbageCollector } from '../app/background.js';
import { createLogger } from '../app/logger.js';
import { ConfigError } from '../config/load.js';
import type { GcReport } from '../gc/collector.js';
import type { StorageUsage } from '../metadata/gc.js';
import { accountOption, jsonOption, storeOptions, withAccountAndRegion, type Command, type CommandInput, type Options } from './command.js';
import { accountOf, regionOf } from '../core/registry-key.js';

const logLevel: Options = { 'log-level': { type: 'string', value: 'LEVEL', help: 'log level of the pass (stderr), default info' } };

export const gcCommands: Command[] = [
  {
    words: ['gc'],
    summary: 'one garbage-collection pass now (review, sweep, abandoned uploads)',
    details: 'Safe beside a running server: every decision is a metadata transaction. The report goes to stdout, one log line per deleted blob to stderr.',
    options: { 'dry-run': { type: 'boolean', help: 'change nothing; report what would be deleted' }, ...jsonOption, ...logLevel, ...storeOptions },
    example: 'berth gc --dry-run --data-dir /var/lib/berth',
    dataDir: 'registry',
    run: (input) => gcCommand('gc', input),
  },
  {
    words: ['usage'],
    summary: 'storage per repository and account: blobs linked, deduplicated, images',
    options: { ...accountOption, ...jsonOption, ...storeOptions },
    example: 'berth usage --account-id 000000000000 --data-dir /var/lib/berth',
    dataDir: 'registry',
    run: (input) => gcCommand('usage', input),
  },
];

async function gcCommand(command: 'gc' | 'usage', { values, config }: CommandInput): Promise<number> {
  const accountId = values['account-id'] as string | undefined;
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits');
  // stdout carries the report; the log (one line per deleted blob) goes to stderr.
  const log = createLogger(config, { fd: 2, bindings: { command } });
  const registry = await openRegistry(config, { log });
  try {
    if (command === 'gc') {
      const report = await garbageCollector(config, registry).run({ dryRun: values['dry-run'] === true });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : gcSummary(report));
      return 0;
    }
    const usage = await registry.ctx.meta.gc.usage(accountId);
    const json = { ...usage, repositories: usage.repositories.map(withAccountAndRegion), registries: usage.registries.map(withAccountAndRegion) };
    process.stdout.write(values.json ? JSON.stringify(json, null, 2) + '\n' : usageTable(usage));
    return 0;
  } finally {
    await registry.close();
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function gcSummary(r: GcReport): string {
  const bytes = (b: number) => `(${formatBytes(b)}, ${b} bytes)`;
  const rows: Array<[string, string]> = [
    ['blobs reviewed', String(r.reviewed)],
    ['  kept (referenced)', String(r.kept)],
    [r.dryRun ? '  would be deleted' : '  deleted', `${r.deleted.blobs} ${bytes(r.deleted.bytes)}`],
  ];
  if (r.dryRun) rows.push(['deletions already queued', `${r.pendingDeletions} (their bytes would be removed)`]);
  else rows.push(['blob files removed', `${r.swept.blobs} ${bytes(r.swept.bytes)}`], ['deletions still queued', String(r.pendingDeletions)]);
  rows.push([r.dryRun ? 'uploads would be reclaimed' : 'uploads reclaimed', `${r.uploadsReclaimed} (+${r.stagedOrphansReclaimed} staged without a session)`]);
  if (r.commitMarkersReclaimed > 0) rows.push(['stale upload commits', String(r.commitMarkersReclaimed)]);
  const title = r.dryRun ? 'garbage collection (dry run: nothing changed)' : 'garbage collection pass';
  return [title, ...rows.map(([k, v]) => `${k.padEnd(28)}${v}`), `took ${r.ms} ms`].join('\n') + '\n';
}

/** Columns from `numbersFrom` on are right-aligned. */
function table(rows: string[][], numbersFrom: number): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i >= numbersFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function usageTable(u: StorageUsage): string {
  const out: string[] = [];
  const repoRows = [['ACCOUNT', 'REGION', 'REPOSITORY', 'IMAGES', 'BLOBS', 'BYTES', 'SIZE']];
  for (const r of u.repositories) {
    repoRows.push([accountOf(r.registryKey), regionOf(r.registryKey), r.name, String(r.images), String(r.blobs), String(r.bytes), formatBytes(r.bytes)]);
  }
  out.push(u.repositories.length > 0 ? table(repoRows, 3) : 'no repositories');
  if (u.registries.length > 0) {
    const accRows = [['ACCOUNT', 'REGION', 'REPOS', 'IMAGES', 'LINKED BLOBS', 'LINKED BYTES', 'DEDUP BLOBS', 'DEDUP BYTES', 'DEDUP SIZE']];
    for (const g of u.registries) {
      accRows.push([
        accountOf(g.registryKey),
        regionOf(g.registryKey),
        String(g.repositories),
        String(g.images),
        String(g.linkedBlobs),
        String(g.linkedBytes),
        String(g.blobs),
        String(g.bytes),
        formatBytes(g.bytes),
      ]);
    }
    out.push('', table(accRows, 2));
  }
  out.push('', `stored in the blob store (all accounts): ${u.stored.blobs} blobs, ${u.stored.bytes} bytes (${formatBytes(u.stored.bytes)})`);
  return out.join('\n') + '\n';
}
