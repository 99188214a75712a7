/**
 * `berth gc [--dry-run]`: one full garbage-collection pass now against the data directory, with
 * the configured grace period and upload age (safe beside a running server: every decision is a
 * metadata transaction).
 * Reports go to stdout; the pass logs each deleted blob to stderr.
 */
import type { GcReport } from '../gc/collector.js';
import { jsonOption, logLevelOption, storeOptions, type Command, type CommandInput } from './command.js';

export const gcCommands: Command[] = [
  {
    words: ['gc'],
    summary: 'one garbage-collection pass now (review, sweep, abandoned uploads)',
    details: 'Safe beside a running server: every decision is a metadata transaction. The report goes to stdout, one log line per deleted blob to stderr.',
    options: {
      'dry-run': { type: 'boolean', help: 'change nothing; report what would be deleted' },
      ...jsonOption,
      ...logLevelOption('info'),
      ...storeOptions,
    },
    example: 'berth gc --dry-run --data-dir /var/lib/berth',
    dataDir: 'registry',
    run: (input) => gcCommand('gc', input),
  },
];

async function gcCommand(command: 'gc', { values, config }: CommandInput): Promise<number> {
  // stdout carries the report; the log (one line per deleted blob) goes to stderr.
  const [{ openRegistry }, { garbageCollector }, { createLogger }] = await Promise.all([
    import('../app/app.js'),
    import('../app/background.js'),
    import('../app/logger.js'),
  ]);
  const log = createLogger(config, { fd: 2, bindings: { command } });
  const registry = await openRegistry(config, { log });
  try {
    const report = await garbageCollector(config, registry).run({ dryRun: values['dry-run'] === true });
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : gcSummary(report));
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
