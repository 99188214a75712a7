/**
 * `Server-Timing: total;dur=<ms>` (W3C Server Timing) on an answer: the time from the request's
 * arrival to its headers, by the server's clock. With it a bench tells a slow answer's own time
 * from the machine's and the client's without reading an access log (whose writes cost the scale
 * bench's 100,000-tag walks, notes/2026-12-06-session-27-lead.md). A listing page is built
 * whole before its headers go, so the figure is the page's time in Berth; a streamed blob's
 * says only how long its headers took. Off by default (config serverTiming): AWS sends no such
 * header, and it tells any caller, refused ones too, how long each answer took to make.
 */
import type { ServerResponse } from 'node:http';

export const SERVER_TIMING_HEADER = 'Server-Timing';

/** The header's value for `ms`: one metric, `total`, in milliseconds to two decimals. */
export function serverTimingValue(ms: number): string {
  return `total;dur=${(Math.round(ms * 100) / 100).toFixed(2)}`;
}

/**
 * The `total` duration in a Server-Timing value, or undefined when it has none (an older Berth, or
 * a value this function cannot read).
 */
export function totalDuration(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const m = /(?:^|,)\s*total\s*;(?:[^,]*;)?\s*dur=([0-9]+(?:\.[0-9]+)?)/.exec(value);
  return m ? Number(m[1]) : undefined;
}

const kStarted = Symbol('berth.serverTimingStarted');
const kWriteHead = Symbol('berth.serverTimingWriteHead');
type Timed = ServerResponse & { [kStarted]: number; [kWriteHead]: ServerResponse['writeHead'] };

/**
 * Stamps `res`'s headers, whenever they are written: an explicit writeHead or the implicit one of
 * a first write or end (both protocols' responses write their headers through writeHead). The
 * start and Node's own writeHead are kept on the response, so one shared function serves every
 * response rather than a closure each.
 */
export function timeAnswer(res: ServerResponse, startedMs: number): void {
  const timed = res as Timed;
  timed[kStarted] = startedMs;
  timed[kWriteHead] = res.writeHead;
  res.writeHead = timedWriteHead as ServerResponse['writeHead'];
}

function timedWriteHead(this: Timed, ...args: Parameters<ServerResponse['writeHead']>): ServerResponse {
  if (!this.headersSent) this.setHeader(SERVER_TIMING_HEADER, serverTimingValue(performance.now() - this[kStarted]));
  return (this[kWriteHead] as (...a: unknown[]) => ServerResponse).apply(this, args);
}
