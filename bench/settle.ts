/**
 * A settled machine before a measurement window: the dirty pages earlier parts left (a curl
 * round's 512 MiB blobs, a crowd's 1.6 GB of uploads, the crowd's own files) are written out now
 * rather than by the kernel's flusher inside the next window. `sync -f` (syncfs) on the file
 * systems of the given directories starts and waits for their writeback; then Dirty + Writeback
 * in /proc/meminfo must fall below a bound (other processes on the machine dirty pages too, so
 * the bound is the condition, not zero; while above it, sync again after each pause). The wait is capped, and a capped settle says so: the
 * window then opens on a machine that did not settle, and the log shows it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface SettleSpec {
  /** Dirty + Writeback below which the machine counts as settled, bytes. */
  boundBytes: number;
  /** The longest the wait (sync included) may take before the window opens anyway, ms. */
  capMs: number;
  /** How often /proc/meminfo is read while waiting, ms. */
  pollMs: number;
}

export const SETTLE: SettleSpec = { boundBytes: 64 * MiB, capMs: 60_000, pollMs: 100 };

export interface Settled {
  /** Dirty + Writeback at the start and at the end, bytes. */
  before: number;
  after: number;
  /** The first sync. */
  syncMs: number;
  /** The whole settle, sync included. */
  ms: number;
  /** True when the cap ended the wait with the bound not reached. */
  capped: boolean;
}

/** Dirty + Writeback from /proc/meminfo's text, in bytes (its figures are kB). */
export function dirtyBytes(meminfo: string): number {
  const kB = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(meminfo);
    if (!m) throw new Error(`/proc/meminfo has no ${k} line`);
    return Number(m[1]);
  };
  return (kB('Dirty') + kB('Writeback')) * 1024;
}

/**
 * Flushes, then waits until `dirty()` is below the bound, flushing again after each pause; never
 * longer than the cap (the flushes count against it). `dirty`, `flush` and `sleep` are parameters for the tests.
 */
export async function settleWith(
  spec: SettleSpec,
  dirty: () => number,
  flush: () => Promise<void>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = () => performance.now(),
): Promise<Settled> {
  const t0 = now();
  const before = dirty();
  let syncMs = -1;
  for (;;) {
    // Again after each wait: pages dirtied meanwhile (by this machine's other work) go out too.
    await flush();
    if (syncMs < 0) syncMs = now() - t0;
    const after = dirty();
    const ms = now() - t0;
    if (after < spec.boundBytes) return { before, after, syncMs, ms, capped: false };
    if (ms >= spec.capMs) return { before, after, syncMs, ms, capped: true };
    await sleep(spec.pollMs);
  }
}

/** Settles the machine for a window on the servers whose data lives in `dirs`. */
export function settle(dirs: string[], spec: SettleSpec = SETTLE): Promise<Settled> {
  return settleWith(
    spec,
    () => dirtyBytes(readFileSync('/proc/meminfo', 'utf8')),
    async () => void (await run('sync', ['-f', ...new Set(dirs)])),
  );
}

/** One line for the bench log. */
export function describeSettle(s: Settled, spec: SettleSpec = SETTLE): string {
  const mb = (b: number) => (b / MiB).toFixed(0);
  const end = s.capped
    ? `CAPPED at ${(spec.capMs / 1000).toFixed(0)} s: Dirty+Writeback still ${mb(s.after)} MB (bound ${mb(spec.boundBytes)} MB), the window opens unsettled`
    : `Dirty+Writeback ${mb(s.after)} MB (bound ${mb(spec.boundBytes)} MB)`;
  return `settle: Dirty+Writeback ${mb(s.before)} MB, sync ${(s.syncMs / 1000).toFixed(2)} s, ${(s.ms / 1000).toFixed(2)} s in all → ${end}`;
}

/** When the mixed part settles: before every server's window, before the part's first only, never. */
export type MixedSettle = 'each' | 'part' | 'off';

/** BENCH_MIXED_SETTLE, checked: a misspelt value stops the bench rather than measuring unsettled. */
export function mixedSettle(value: string | undefined): MixedSettle {
  if (value === undefined || value === '') return 'each';
  if (value === 'each' || value === 'part' || value === 'off') return value;
  throw new Error(`BENCH_MIXED_SETTLE: "${value}" is not each, part or off`);
}

/**
 * The settle before one mixed-load window, as `when` asks (`firstWindow`: the part's first);
 * the log line, or undefined when this window is not settled. Directories not made yet are left out.
 */
export async function settleBeforeWindow(when: MixedSettle, firstWindow: boolean, dirs: string[]): Promise<string | undefined> {
  if (when === 'off' || (when === 'part' && !firstWindow)) return undefined;
  return describeSettle(await settle(dirs.filter((d) => existsSync(d))));
}
