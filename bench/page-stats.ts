/**
 * A listing's page times summed up: p50, p99 (and which page it is), the slowest page with where
 * its time went, the server's own figures, and the pages at and above the p99 split the same way.
 */
import { type PageWaits, waitsText } from './loop-stalls.js';

/**
 * One page as read: the client's time and, when the server said it (Server-Timing), the server's
 * and its main thread's CPU over that time.
 */
export interface PageTime {
  ms: number;
  serverMs?: number;
  serverCpuMs?: number;
  /** The bench's own GC pauses inside the page's window (the client's share of its time, not the server's). */
  benchGcMs?: number;
  /** Where the page's time went, from a probed server's logs (server-probe.ts). */
  waits?: PageWaits;
}

export interface PageStats {
  /** Pages per walk, and walks. */
  pages: number;
  passes: number;
  /** Pages timed in all: the p99 is the `sampled - ceil(0.99 × sampled) + 1`th slowest of them. */
  sampled: number;
  items: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Where the slowest page fell (1-based), so a lone slow page says whether it was a walk's first,
   * and the server's own ms for it (undefined for the reference, or a Berth without Server-Timing).
   */
  slowest: { pass: number; page: number; serverMs?: number; serverCpuMs?: number; benchGcMs?: number; waits?: PageWaits };
  /**
   * The server's own ms per page, p50, p99 and max, over the pages that said it (`missing` did
   * not), and the p99 of its main thread's CPU per page: a server p99 far above the CPU's waited.
   */
  server?: { p50Ms: number; p99Ms: number; maxMs: number; cpuP99Ms?: number; missing: number };
  /**
   * The pages at and above the p99 (the tail a p99 is read from), their client time summed and
   * split as each page's waits say (only the pages that have them): what to blame for the p99.
   */
  tail?: PageWaits & { pages: number; clientMs: number; benchGcMs: number };
  rssBeforeMB: number;
  rssPeakMB: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function tailOf(pages: PageTime[]): Pick<PageStats, 'tail'> {
  const split = pages.filter((p) => p.waits !== undefined);
  if (split.length === 0) return {};
  const sum = (f: (p: PageTime) => number) => split.reduce((a, p) => a + f(p), 0);
  const keys = [
    'beforeMs',
    'inServerMs',
    'afterMs',
    'serverStallMs',
    'serverStallCpuMs',
    'serverStallOtherCpuMs',
    'serverGcMs',
    'benchStallMs',
    'benchStallCpuMs',
  ] as const;
  const waits = Object.fromEntries(keys.map((k) => [k, sum((p) => p.waits![k])])) as unknown as PageWaits;
  return { tail: { ...waits, pages: split.length, clientMs: sum((p) => p.ms), benchGcMs: sum((p) => p.benchGcMs ?? 0) } };
}

/** The tail's line: where the client's time in the pages at and above the p99 went. */
export function tailLine(t: NonNullable<PageStats['tail']>): string {
  const f = (x: number) => x.toFixed(0);
  const pages = t.pages === 1 ? 'the page at the p99 (the slowest)' : `the ${t.pages} pages at and above the p99`;
  return `${pages}: client ${f(t.clientMs)} ms, ${waitsText(t)}, its GC ${f(t.benchGcMs)}`;
}

/** The page times of a listing's walks (`walks[pass][page]`) summed up; pages per walk from the last. */
export function pageStats(walks: PageTime[][]): Omit<PageStats, 'items' | 'rssBeforeMB' | 'rssPeakMB'> {
  const all = walks.flat();
  const times = all.map((p) => p.ms).sort((a, b) => a - b);
  let slowest: PageTime & { pass: number; page: number } = { pass: 0, page: 0, ms: -1 };
  for (const [pass, pages] of walks.entries())
    for (const [page, p] of pages.entries()) if (p.ms > slowest.ms) slowest = { ...p, pass: pass + 1, page: page + 1 };
  const server = all.flatMap((p) => (p.serverMs === undefined ? [] : [p.serverMs])).sort((a, b) => a - b);
  const p99Ms = percentile(times, 99);
  const cpu = all.flatMap((p) => (p.serverCpuMs === undefined ? [] : [p.serverCpuMs])).sort((a, b) => a - b);
  return {
    pages: walks.at(-1)?.length ?? 0,
    passes: walks.length,
    sampled: all.length,
    p50Ms: percentile(times, 50),
    p99Ms,
    maxMs: times[times.length - 1]!,
    ...tailOf(all.filter((p) => p.ms >= p99Ms)),
    slowest: {
      pass: slowest.pass,
      page: slowest.page,
      ...(slowest.serverMs !== undefined && { serverMs: slowest.serverMs }),
      ...(slowest.serverCpuMs !== undefined && { serverCpuMs: slowest.serverCpuMs }),
      ...(slowest.benchGcMs !== undefined && { benchGcMs: slowest.benchGcMs }),
      ...(slowest.waits !== undefined && { waits: slowest.waits }),
    },
    ...(server.length > 0 && {
      server: {
        p50Ms: percentile(server, 50),
        p99Ms: percentile(server, 99),
        maxMs: server[server.length - 1]!,
        ...(cpu.length > 0 && { cpuP99Ms: percentile(cpu, 99) }),
        missing: all.length - server.length,
      },
    }),
  };
}

/**
 * The slowest page's server and client time, the server's p50, p99 and max over the walks beside
 * them: a slow page whose server time is small waited on the machine or the client, not on Berth.
 */
export function slowestLine(s: Pick<PageStats, 'maxMs' | 'slowest' | 'server'>): string {
  const gc = s.slowest.benchGcMs ? ` (the bench's own GC ${s.slowest.benchGcMs.toFixed(1)})` : '';
  const client = `client ${s.maxMs.toFixed(1)} ms${gc}`;
  if (!s.server) return `server n/a, ${client}`;
  const cpu = s.slowest.serverCpuMs === undefined ? '' : ` (its CPU ${s.slowest.serverCpuMs.toFixed(1)})`;
  const own = s.slowest.serverMs === undefined ? 'server ?' : `server ${s.slowest.serverMs.toFixed(1)} ms${cpu}`;
  const missing = s.server.missing > 0 ? `, ${s.server.missing} pages without a time` : '';
  const cpuP99 = s.server.cpuP99Ms === undefined ? '' : `; its CPU p99 ${s.server.cpuP99Ms.toFixed(1)} ms`;
  const waits = s.slowest.waits ? ` [${waitsText(s.slowest.waits)}]` : '';
  return `${own}, ${client}${waits}; server p50 ${s.server.p50Ms.toFixed(1)}, p99 ${s.server.p99Ms.toFixed(1)}, max ${s.server.maxMs.toFixed(1)} ms${cpuP99}${missing}`;
}

/** Which page a p99 of `n` is, counted from the slowest: with 100 pages the second slowest, with 20 the slowest. */
export function p99Rank(n: number): string {
  const k = n - Math.ceil(0.99 * n) + 1;
  const th = k % 10 === 1 && k % 100 !== 11 ? 'st' : k % 10 === 2 && k % 100 !== 12 ? 'nd' : k % 10 === 3 && k % 100 !== 13 ? 'rd' : 'th';
  return k === 1 ? `the slowest of ${n} pages` : `the ${k}${th} slowest of ${n} pages`;
}
