/**
 * `berth usage`: what the registry holds now, per repository and account (images, blobs linked,
 * deduplicated), and the figures ECR bills on over a period of whole UTC days (default: the
 * current month): storage in GB-months, transfer out (pulls) and in (pushes), pulls. Read from the
 * metadata; safe beside a running server.
 */
import { accountOf, regionOf } from '../core/registry-key.js';
import { ConfigError } from '../config/load.js';
import { systemClock } from '../core/clock.js';
import type { StorageUsage } from '../metadata/gc.js';
import { DAY_MS } from '../metadata/usage.js';
import { usageReport, type UsageReport } from '../metrics/usage-report.js';
import { accountOption, jsonOption, storeOptions, withAccountAndRegion, type Command, type CommandInput } from './command.js';
import { formatBytes } from './gc.js';

/** Storage carried into a period comes from a sample at most this many days before it. */
const LOOKBACK_DAYS = 62;

export const usageCommands: Command[] = [
  {
    words: ['usage'],
    summary: 'storage now per repository and account; GB-months and transfer over a period',
    details:
      'The period is whole UTC days from --from up to (not including) --to, default the current month. Storage is sampled per repository ' +
      'every usageSampleIntervalSeconds by a running server; a GB-month is 2^30 bytes for a whole month. Transfer out counts manifest and ' +
      'blob reads on /v2, transfer in upload bodies and manifest puts.',
    options: {
      ...accountOption,
      from: { type: 'string', value: 'YYYY-MM-DD', help: 'first day of the period (UTC), default the first of this month' },
      to: { type: 'string', value: 'YYYY-MM-DD', help: 'the day after the period (UTC), default the first of next month' },
      ...jsonOption,
      ...storeOptions,
    },
    example: 'berth usage --from 2026-11-01 --to 2026-12-01 --data-dir /var/lib/berth',
    dataDir: 'registry',
    run: usageCommand,
  },
];

function parseDay(flag: string, value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || new Date(ms).toISOString().slice(0, 10) !== value) throw new ConfigError(`--${flag} must be a date YYYY-MM-DD, got '${value}'`);
  return ms / DAY_MS;
}

/** [from, to) in days; default the current month. */
export function periodOf(values: CommandInput['values'], now: Date): { from: number; to: number } {
  const from = typeof values.from === 'string' ? parseDay('from', values.from) : Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / DAY_MS;
  const to =
    typeof values.to === 'string'
      ? parseDay('to', values.to)
      : Date.UTC(new Date(from * DAY_MS).getUTCFullYear(), new Date(from * DAY_MS).getUTCMonth() + 1, 1) / DAY_MS;
  if (to <= from) throw new ConfigError('--to must be after --from (the period is [from, to))');
  return { from, to };
}

async function usageCommand({ values, config }: CommandInput): Promise<number> {
  const accountId = values['account-id'] as string | undefined;
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits');
  const { from, to } = periodOf(values, systemClock.now());
  const meta = await (await import('../app/open-stores.js')).openMetadata(config);
  try {
    const storage = await meta.gc.usage(accountId);
    const rows = await meta.usage.daily(from, to, LOOKBACK_DAYS, accountId);
    const period = usageReport(rows, from, to, await meta.usage.lastSampledDay());
    process.stdout.write(values.json ? JSON.stringify(usageJson(storage, period), null, 2) + '\n' : storageTable(storage) + '\n' + periodTable(period));
    return 0;
  } finally {
    await meta.close();
  }
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

function storageTable(u: StorageUsage): string {
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

const gbMonths = (n: number) => n.toFixed(6);

function periodTable(p: UsageReport): string {
  const sampled = p.sampledThrough === undefined ? 'storage never sampled' : `storage sampled through ${p.sampledThrough}`;
  const out = [`usage from ${p.from} to ${p.to} (not included), ${sampled}; GB-month = 2^30 bytes for a month`];
  if (p.repositories.length === 0 && p.registries.length === 0) return out.concat('no usage recorded', '').join('\n');
  const repoRows = [['ACCOUNT', 'REGION', 'REPOSITORY', 'GB-MONTHS', 'BYTES OUT', 'BYTES IN', 'PULLS']];
  for (const r of p.repositories) {
    const [account, region] = [accountOf(r.registryKey), regionOf(r.registryKey)];
    repoRows.push([account!, region!, r.repository, gbMonths(r.gbMonths), String(r.bytesOut), String(r.bytesIn), String(r.pulls)]);
  }
  out.push(table(repoRows, 3), '');
  const accRows = [['ACCOUNT', 'REGION', 'GB-MONTHS (DEDUP)', 'GB-MONTHS (LINKED)', 'BYTES OUT', 'BYTES IN', 'PULLS']];
  for (const g of p.registries) {
    const [account, region] = [accountOf(g.registryKey), regionOf(g.registryKey)];
    accRows.push([account!, region!, gbMonths(g.gbMonths), gbMonths(g.linkedGbMonths), String(g.bytesOut), String(g.bytesIn), String(g.pulls)]);
  }
  out.push(table(accRows, 2), '');
  return out.join('\n');
}

/** As `berth gc` and ECR name registries: an account and a region, never the stored key. */
function usageJson(storage: StorageUsage, period: UsageReport): unknown {
  return {
    ...storage,
    repositories: storage.repositories.map(withAccountAndRegion),
    registries: storage.registries.map(withAccountAndRegion),
    period: { ...period, repositories: period.repositories.map(withAccountAndRegion), registries: period.registries.map(withAccountAndRegion) },
  };
}
