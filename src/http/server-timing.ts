/**
 * `Server-Timing: total;dur=<ms>, cpu;dur=<ms>` (W3C Server Timing) on an answer: `total` the time
 * from the request's arrival to its headers, by the server's clock. With it a bench tells a slow
 * answer's own time from the machine's and the client's without reading an access log (with which
 * the scale bench's 100,000-tag walks read slower, notes/2026-12-06-session-27-lead.md). A listing page is built
 * whole before its headers go, so the figure is the page's time in Berth; a streamed blob's
 * says only how long its headers took. Beside it `cpu`, the main thread's CPU time over the same
 * window: a page whose `total` is far above its `cpu` waited (for a core, for another request's
 * turn on the loop) rather than worked; read through getrusage, which the kernel brings up to date
 * at its scheduler ticks, so it is good to a few ms, not to the total's 0.01. Off by default (config serverTiming): AWS sends no such
 * header, and it tells any caller, refused ones too, how long each answer took to make.
 */
import type { ServerResponse } from 'node:http';

export const SERVER_TIMING_HEADER = 'Server-Timing';

const ms2 = (ms: number) => (Math.round(ms * 100) / 100).toFixed(2);

/** The header's value: `total` and `cpu`, in milliseconds to two decimals. */
export function serverTimingValue(ms: number, cpuMs: number): string {
  return `total;dur=${ms2(ms)}, cpu;dur=${ms2(cpuMs)}`;
}

const METRIC = {
  total: /(?:^|,)\s*total\s*;(?:[^,]*;)?\s*dur=([0-9]+(?:\.[0-9]+)?)/,
  cpu: /(?:^|,)\s*cpu\s*;(?:[^,]*;)?\s*dur=([0-9]+(?:\.[0-9]+)?)/,
};

/**
 * The `dur` of metric `name` in a Server-Timing value, or undefined when it has none (an older
 * Berth, a server that sends none, or a value this function cannot read).
 */
export function duration(value: string | null | undefined, name: keyof typeof METRIC): number | undefined {
  const m = value ? METRIC[name].exec(value) : null;
  return m ? Number(m[1]) : undefined;
}

const kStarted = Symbol('berth.serverTimingStarted');
const kStartedCpu = Symbol('berth.serverTimingStartedCpu');
const kWriteHead = Symbol('berth.serverTimingWriteHead');
type Timed = ServerResponse & { [kStarted]: number; [kStartedCpu]: number; [kWriteHead]: ServerResponse['writeHead'] };

/** The main thread's CPU time so far, ms (a worker's own when called on one). */
function threadCpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Stamps `res`'s headers, whenever they are written: an explicit writeHead or the implicit one of
 * a first write or end (both protocols' responses write their headers through writeHead). The
 * start and Node's own writeHead are kept on the response, so one shared function serves every
 * response rather than a closure each.
 */
export function timeAnswer(res: ServerResponse, startedMs: number): void {
  const timed = res as Timed;
  timed[kStarted] = startedMs;
  timed[kStartedCpu] = threadCpuMs();
  timed[kWriteHead] = res.writeHead;
  res.writeHead = timedWriteHead as ServerResponse['writeHead'];
}

function timedWriteHead(this: Timed, ...args: Parameters<ServerResponse['writeHead']>): ServerResponse {
  if (!this.headersSent) this.setHeader(SERVER_TIMING_HEADER, serverTimingValue(performance.now() - this[kStarted], threadCpuMs() - this[kStartedCpu]));
  return (this[kWriteHead] as (...a: unknown[]) => ServerResponse).apply(this, args);
}
