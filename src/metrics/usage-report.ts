/**
 * The figures ECR bills on, over a period of whole UTC days: storage in GB-months and transfer
 * (bytes out: pulls; bytes in: pushes), per repository and per registry (account and region),
 * from the daily rows of ../metadata/usage.ts.
 *
 * A day's storage is the average of its samples (hourly on a running server). A day without a
 * sample (no node running) carries the last sample before it forward, so a registry that was
 * down is still billed for what it held; nothing is carried past the last day any sample was
 * taken, so a period reaching into the future is not billed ahead. A GB-month is 2^30 bytes
 * (AWS bills in binary gigabytes) held for a whole calendar month: one day counts 1/(days in
 * its month).
 */
import { registryKeyText, type RegistryKey } from '../core/registry-key.js';
import { DAY_MS, REGISTRY_ROW, type DailyUsage } from '../metadata/usage.js';

export const GIB = 2 ** 30;

export interface UsageFigures {
  gbMonths: number;
  bytesIn: number;
  bytesOut: number;
  pulls: number;
}

export interface RepositoryUsageFigures extends UsageFigures {
  registryKey: RegistryKey;
  repository: string;
}

export interface RegistryUsageFigures extends UsageFigures {
  registryKey: RegistryKey;
  /** Each distinct blob once (gbMonths is this figure's; linkedGbMonths sums the repositories). */
  linkedGbMonths: number;
}

export interface UsageReport {
  /** First day, and the day after the last (YYYY-MM-DD, UTC). */
  from: string;
  to: string;
  /** The last day storage was sampled (storage is counted up to it), if ever. */
  sampledThrough?: string;
  repositories: RepositoryUsageFigures[];
  registries: RegistryUsageFigures[];
}

export const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

function daysInMonth(day: number): number {
  const d = new Date(day * DAY_MS);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

/** `rows`: the store's `daily(from, to, lookback)` answer; `lastSampledDay`: its `lastSampledDay()`. */
export function usageReport(rows: DailyUsage[], from: number, to: number, lastSampledDay: number | undefined): UsageReport {
  const series = new Map<string, { registryKey: RegistryKey; repository: string; rows: DailyUsage[] }>();
  for (const r of rows) {
    const key = `${registryKeyText(r.registryKey)}\n${r.repository}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { registryKey: r.registryKey, repository: r.repository, rows: [] }));
    s.rows.push(r);
  }
  const end = lastSampledDay === undefined ? from : Math.min(to, lastSampledDay + 1);
  const repositories: RepositoryUsageFigures[] = [];
  const registries = new Map<RegistryKey, RegistryUsageFigures>();
  const registry = (registryKey: RegistryKey) => {
    let g = registries.get(registryKey);
    if (!g) registries.set(registryKey, (g = { registryKey, gbMonths: 0, linkedGbMonths: 0, bytesIn: 0, bytesOut: 0, pulls: 0 }));
    return g;
  };
  for (const s of series.values()) {
    const f = figures(s.rows, from, end);
    const g = registry(s.registryKey);
    if (s.repository === REGISTRY_ROW) {
      g.gbMonths += f.gbMonths;
      continue;
    }
    repositories.push({ registryKey: s.registryKey, repository: s.repository, ...f });
    g.linkedGbMonths += f.gbMonths;
    g.bytesIn += f.bytesIn;
    g.bytesOut += f.bytesOut;
    g.pulls += f.pulls;
  }
  const byName = (a: { registryKey: RegistryKey; repository?: string }, b: { registryKey: RegistryKey; repository?: string }) => {
    const [x, y] = [registryKeyText(a.registryKey), registryKeyText(b.registryKey)];
    return x < y ? -1 : x > y ? 1 : (a.repository ?? '') < (b.repository ?? '') ? -1 : 1;
  };
  return {
    from: isoDay(from),
    to: isoDay(to),
    ...(lastSampledDay !== undefined && { sampledThrough: isoDay(lastSampledDay) }),
    repositories: repositories.sort(byName),
    registries: [...registries.values()].sort(byName),
  };
}

/** One key's figures: rows sorted by day, possibly starting with one before `from` (carried in). */
function figures(rows: DailyUsage[], from: number, storageEnd: number): UsageFigures {
  const out: UsageFigures = { gbMonths: 0, bytesIn: 0, bytesOut: 0, pulls: 0 };
  let carried = 0;
  let i = 0;
  for (; i < rows.length && rows[i]!.day < from; i++) {
    const r = rows[i]!;
    if (r.storageSamples > 0) carried = r.storageSum / r.storageSamples;
  }
  for (let j = i; j < rows.length; j++) {
    out.bytesIn += rows[j]!.bytesIn;
    out.bytesOut += rows[j]!.bytesOut;
    out.pulls += rows[j]!.pulls;
  }
  for (let day = from; day < storageEnd; day++) {
    const r = rows[i];
    if (r !== undefined && r.day === day) {
      if (r.storageSamples > 0) carried = r.storageSum / r.storageSamples;
      i++;
    }
    out.gbMonths += carried / GIB / daysInMonth(day);
  }
  return out;
}
