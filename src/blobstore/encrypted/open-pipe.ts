/**
 * The send pipe of a byte thread (native/send-pipe.cc): a thread of the addon writes a
 * download's pieces to its socket while this thread opens the next ones, so one download's
 * decipher and its send(2)s overlap instead of taking turns on one core (open-send.ts's serial
 * writes, still used where the pipe does not start or the ring has a single slot).
 *
 * A piped download's pieces go into the pipe as soon as they are opened, behind its pieces already
 * there (the pipe writes a socket's pieces in order): the pipe's thread goes from one piece to the
 * next without waiting for this thread, which meanwhile opens the one after into the slot the
 * first gives back. A full
 * socket holds a poll(2) entry of the pipe's thread, never this thread nor the pipe's other
 * downloads. The response rule is judged here, every JUDGE_MS while a piece is in the pipe, on the
 * bytes the client has taken (whole pieces, and what the pipe has written of the one it holds):
 * each `stallMs` window must see `minBytes`, as on the serial path (open-send.ts).
 */
import type { Sending } from './open-send.js';
import { sendPipeAddon, type SendPipeAddon } from './send-pipe-addon.js';

/** How often the pieces in the pipe are judged by the response rule (a window is ≥ 1 s). */
const JUDGE_MS = 100;

interface InPipe {
  owner: number;
  out: Sending;
  at: number;
  len: number;
}

export interface PipeEvents {
  /** `owner`'s piece ring[at, at + len) is written whole (errno 0), or writing it failed (errno > 0). */
  done(owner: number, at: number, errno: number): void;
  /** `owner`'s client took fewer than `minBytes` in a window: the caller ends the download (and cancels its piece). */
  stalled(owner: number): void;
}

export class SendPipe {
  private readonly jobs = new Map<number, InPipe>();
  private lastJob = 0;
  private judge: NodeJS.Timeout | undefined;

  private constructor(
    private readonly addon: SendPipeAddon,
    private readonly events: PipeEvents,
  ) {}

  /**
   * This thread's pipe, or undefined when the addon has none (an older build) or its thread did
   * not start. `batch`: the pipe's thread runs as SCHED_BATCH, so that queuing a piece does not
   * switch this thread out for it (config `sendPipeBatch`).
   */
  static start(events: PipeEvents, batch = false): SendPipe | undefined {
    const addon = sendPipeAddon();
    if (!addon) return undefined;
    let self: SendPipe | undefined;
    let started: true | number;
    try {
      started = addon.pipe((job, written, errno) => self?.finished(job, written, errno), batch);
    } catch {
      // Already started on this thread (by another task): its reports go there; this one writes serially.
      return undefined;
    }
    if (started !== true) return undefined;
    self = new SendPipe(addon, events);
    return self;
  }

  /** Puts `out`'s piece just opened into the pipe, behind its pieces there. */
  push(owner: number, out: Sending): void {
    const p = out.next;
    if (!p) return;
    out.next = undefined;
    const job = ++this.lastJob;
    out.inPipe.push(job);
    this.jobs.set(job, { owner, out, at: p.at, len: p.len });
    this.addon.pipeSend(job, out.sock, out.ring, p.at, p.len);
    this.judge ??= setInterval(() => this.judgeAll(), JUDGE_MS);
  }

  /** Takes `out`'s pieces back from the pipe (a download given up): the pipe no longer touches its socket or ring. */
  cancel(out: Sending): void {
    // Newest first: the pipe writes a socket's oldest piece, so taking the oldest back first would
    // let the pipe's thread start the next one meanwhile, after a piece it had only half written
    // (the client then reads bytes from further on as if they followed).
    for (const job of [...out.inPipe].reverse()) {
      this.jobs.delete(job);
      const written = this.addon.pipeCancel(job);
      if (written > 0) out.sent += written;
    }
    out.inPipe = [];
  }

  private finished(job: number, written: number, errno: number): void {
    const j = this.jobs.get(job);
    if (!j) return;
    this.jobs.delete(job);
    // The oldest of its download's: the pipe writes them in order.
    j.out.inPipe.shift();
    j.out.sent += written;
    this.events.done(j.owner, j.at, errno);
  }

  private judgeAll(): void {
    if (this.jobs.size === 0) {
      clearInterval(this.judge);
      this.judge = undefined;
      return;
    }
    const now = performance.now();
    const judged = new Set<Sending>();
    for (const j of [...this.jobs.values()]) {
      const out = j.out;
      if (judged.has(out) || out.inPipe.length === 0) continue;
      judged.add(out);
      if (now - out.windowStart < out.stallMs) continue;
      const taken = out.sent + Math.max(0, this.addon.pipeProgress(out.inPipe[0]!));
      if (taken - out.windowSent < out.minBytes) {
        this.events.stalled(j.owner);
      } else {
        out.windowStart = now;
        out.windowSent = taken;
      }
    }
  }
}
