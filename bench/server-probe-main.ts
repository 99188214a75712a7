/**
 * Loaded as a Berth server's entry before its CLI (BENCH_PROBE_CLI), for the listings bench: logs,
 * on the monotonic clock (loop-stalls.ts), each request's window, the server's GC pauses and its
 * event loop's stalls, so that a slow page says whether the server's loop was held (by what) while
 * the page waited. Lines are kept in memory and written every 50 ms, not on the request's path.
 */
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { hrMs, perfToHr, StallSampler } from './loop-stalls.js';

// BENCH_PROBE_V8_FLAGS: V8 flags set before the CLI loads, for one server of a pair
// (BENCH_BASELINE_ENV=BENCH_PROBE_V8_FLAGS=--no-parallel-scavenge).
for (const flag of process.env.BENCH_PROBE_V8_FLAGS?.split(' ').filter(Boolean) ?? []) setFlagsFromString(flag);
const prefix = process.env.BENCH_PROBE_LOG!;
const cli = process.env.BENCH_PROBE_CLI!;
const pending = { requests: [] as string[], gc: [] as string[], stalls: [] as string[] };
const flush = () => {
  for (const [kind, lines] of Object.entries(pending)) {
    if (lines.length === 0) continue;
    appendFileSync(`${prefix}.${kind}`, `${lines.join('\n')}\n`);
    lines.length = 0;
  }
};
setInterval(flush, 50).unref();

const started = new WeakMap<object, number>();
subscribe('http.server.request.start', (m) => started.set((m as { response: object }).response, hrMs()));
subscribe('http.server.response.finish', (m) => {
  const start = started.get((m as { response: object }).response);
  if (start !== undefined) pending.requests.push(`${start.toFixed(3)} ${hrMs().toFixed(3)}`);
});

const offset = perfToHr();
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    pending.gc.push(`${(offset + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${(e as unknown as { detail: { kind: number } }).detail.kind}`);
}).observe({ entryTypes: ['gc'] });

new StallSampler((s) => pending.stalls.push(`${s.from.toFixed(3)} ${s.to.toFixed(3)} ${s.cpuMs.toFixed(3)} ${s.otherCpuMs.toFixed(3)}`)).start();

process.argv[1] = cli;
await import(cli);
