/**
 * Where a listing page's time went when its server's handler was short: the pieces of a page's
 * window (client send to last byte) before the server took the request, in it, and after it; the
 * server's event loop stalls inside the window outside that request (split into its own CPU, such
 * as a GC or another task, and time it got no core at all); the bench's own. Times are
 * milliseconds on CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine shares,
 * so the bench's windows and a server's logs (server-probe-main.ts) line up.
 */
export const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** `performance.now()` and entries' `startTime` on the hrtime clock (Node's performance clock is uv_hrtime from its origin). */
export const perfToHr = (): number => hrMs() - performance.now();

const threadCpuMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * A stretch the thread's loop did not turn: `cpuMs` of it on the thread's CPU (its own work), the
 * rest off it (no core, or a syscall); `otherCpuMs`: what the process's other threads ran
 * meanwhile (on two cores, a server's own byte or audit threads can be what took the core).
 */
export interface Stall {
  from: number;
  to: number;
  cpuMs: number;
  otherCpuMs: number;
}

/**
 * A timer every `everyMs` that notes each turn later than `overMs` past its due time: the loop
 * was held that long, by the thread's own work (the thread's CPU advanced) or by the machine (it
 * did not). A hold shorter than `overMs`, or the part of one before the turn it delayed was due,
 * goes unseen: this is for the tens of ms a slow page waits. Each turn costs a wakeup, an hrtime
 * and a getrusage: on this VM an idle process spent 5–6 ms of CPU a second at 10 ms (11 at 5 ms,
 * 16 at 2 ms, 0.2 without it; load 10).
 */
export class StallSampler {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private lastCpu = 0;
  private lastProcessCpu = 0;

  constructor(
    private readonly onStall: (s: Stall) => void,
    private readonly everyMs = 10,
    private readonly overMs = 5,
  ) {}

  start(): void {
    this.last = hrMs();
    this.lastCpu = threadCpuMs();
    this.lastProcessCpu = processCpuMs();
    this.timer = setInterval(() => {
      const t = hrMs();
      const cpu = threadCpuMs();
      const all = processCpuMs();
      const due = this.last + this.everyMs;
      if (t - due > this.overMs) {
        const own = cpu - this.lastCpu;
        // Both over the whole turn (the stall and the turn's due part): an upper bound of the stall's share.
        this.onStall({ from: due, to: t, cpuMs: Math.min(t - due, own), otherCpuMs: Math.max(0, all - this.lastProcessCpu - own) });
      }
      this.last = t;
      this.lastCpu = cpu;
      this.lastProcessCpu = all;
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** One request as the server logged it: taken (`start`), answered (`finish`: its last byte handed to the kernel). */
export interface ServerRequest {
  start: number;
  finish: number;
}

export interface Pause {
  at: number;
  ms: number;
}

/** A page's time, split. All ms; the stall and GC figures overlap the three pieces, they do not add to them. */
export interface PageWaits {
  /** From the client sending the request to the server's loop taking it. */
  beforeMs: number;
  /** From that to the answer's last byte handed to the kernel (as the server's loop next saw it; cut at the window's end). */
  inServerMs: number;
  /** From that to the client holding the last byte. */
  afterMs: number;
  /** The server's loop stalled inside the page's window but outside this request. */
  serverStallMs: number;
  /** Of which on the server's main-thread CPU (a GC, another task); the rest it had no core. */
  serverStallCpuMs: number;
  /** The CPU the server's other threads ran during those stalls (its byte, audit, checkpoint threads). */
  serverStallOtherCpuMs: number;
  /** The server's GC pauses inside the page's window, its own request's included. */
  serverGcMs: number;
  /** The bench's loop stalled inside the window, and how much of that was on its CPU. */
  benchStallMs: number;
  benchStallCpuMs: number;
}

const overlap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));

/** Stall time (and its CPU share, pro rata) inside [from, to] but outside [skipFrom, skipTo]. */
function stalledIn(stalls: Stall[], from: number, to: number, skipFrom = to, skipTo = to): [number, number, number] {
  let ms = 0;
  let cpu = 0;
  let other = 0;
  for (const s of stalls) {
    const len = s.to - s.from;
    if (len <= 0) continue;
    const o = overlap(s.from, s.to, from, to) - overlap(s.from, s.to, Math.max(from, skipFrom), Math.min(to, skipTo));
    ms += o;
    cpu += (s.cpuMs * o) / len;
    other += (s.otherCpuMs * o) / len;
  }
  return [ms, cpu, other];
}

export function pageWaits(
  window: { sent: number; done: number },
  request: ServerRequest,
  server: { stalls: Stall[]; gc: Pause[] },
  bench: { stalls: Stall[] },
): PageWaits {
  const { sent, done } = window;
  const [serverStallMs, serverStallCpuMs, serverStallOtherCpuMs] = stalledIn(server.stalls, sent, done, request.start, request.finish);
  const [benchStallMs, benchStallCpuMs] = stalledIn(bench.stalls, sent, done);
  // The server hears of its answer's end ('finish') only when its loop turns again, which a GC or
  // a lost core can hold past the bench's last byte: each piece is cut to the page's window.
  const start = Math.min(Math.max(request.start, sent), done);
  const finish = Math.min(Math.max(request.finish, start), done);
  return {
    beforeMs: start - sent,
    inServerMs: finish - start,
    afterMs: done - finish,
    serverStallMs,
    serverStallCpuMs,
    serverStallOtherCpuMs,
    serverGcMs: server.gc.reduce((a, p) => a + overlap(p.at, p.at + p.ms, sent, done), 0),
    benchStallMs,
    benchStallCpuMs,
  };
}

/** A page's split as a reader wants it: where the client's time went. */
export function waitsText(w: PageWaits): string {
  const f = (x: number) => x.toFixed(1);
  const stall = `the server's loop stalled ${f(w.serverStallMs)} ms outside it (${f(w.serverStallCpuMs)} on its CPU, its other threads ran ${f(w.serverStallOtherCpuMs)}), its GC ${f(w.serverGcMs)}`;
  const bench = `the bench's loop stalled ${f(w.benchStallMs)} (${f(w.benchStallCpuMs)} on its CPU)`;
  return `${f(w.beforeMs)} ms before the server took it, ${f(w.inServerMs)} in it, ${f(w.afterMs)} after; ${stall}; ${bench}`;
}
