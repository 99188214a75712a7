/**
 * Downloads a byte thread writes to their clients' sockets (open-task.ts, after `go`): each piece
 * is opened into one of the download's first ring slots and written from there with non-blocking
 * send(2) on the thread's dup of the socket (native/sock-send.cc), so the main thread touches none
 * of the bytes. Where the ring has two slots and the thread's send pipe runs (open-pipe.ts), the
 * pipe's thread writes a piece while this thread opens the next; else this thread writes each
 * piece itself, as below, between openings.
 *
 * A full socket must not hold the thread: other downloads, and the uploads this thread seals,
 * share it. So a turn writes what the socket takes and moves on; only when every download of the
 * thread is waiting on its socket does the thread wait in poll(2), briefly (POLL_MS, enough for a
 * fast client to drain its buffer), going back to its event loop between waits so messages are
 * seen; after QUIET_POLLS waits in a row that saw nothing it stops blocking and looks again after
 * a backoff (1 ms doubling to BACKOFF_MAX_MS).
 * A stalled client therefore costs half a second of short waits, then ~50 looks a second, not a
 * thread. The response rule (http/slow-clients.ts) holds here too, judged by the thread since no
 * byte waits in Node's buffers: while a piece waits on the socket, each `stallMs` window must see
 * the client take `minBytes`, or the download is given up and the main thread cuts the connection
 * as that rule's own cut would. A window is judged once it has passed with a piece waiting; it is
 * not restarted when a piece is taken whole, since the thread has the next one ready within a
 * chunk's time (a trickling reader would otherwise never be judged).
 */
import { errnoName, sockSend, type SockSend } from './sock-send.js';

/** One download being written to its socket. */
export interface Sending {
  readonly sock: number;
  readonly stallMs: number;
  /** Bytes the client must take in each `stallMs` window while a piece waits on its socket (at least 1). */
  readonly minBytes: number;
  readonly ring: Uint8Array;
  /** Plaintext bytes the socket has taken. */
  sent: number;
  /** The piece still to write: ring[at, at + len). */
  pending: { at: number; len: number } | undefined;
  /** When the window being judged began (performance.now()), and `sent` then. */
  windowStart: number;
  windowSent: number;
  /** The run's last bytes, left in the ring for the main thread to end the response with. */
  tail: { at: number; len: number } | undefined;
  /** Written by the thread's send pipe (open-pipe.ts) rather than by write(): its pieces there (jobs, oldest first), and one just opened. */
  piped: boolean;
  inPipe: number[];
  next: { at: number; len: number } | undefined;
}

/** The longest the thread blocks in poll(2) waiting for a socket to take bytes. */
const POLL_MS = 5;
/**
 * Empty waits in a row (half a second) after which the sockets are looked at without blocking. On
 * a loaded machine a client may not run for tens of milliseconds; a thread that had stopped
 * blocking would then find its socket writable only at its next look, and lose the time between.
 */
const QUIET_POLLS = 100;
const BACKOFF_MAX_MS = 20;
const TAIL_BYTES = 1;
/** poll(2) watches at most this many sockets at once (the addon's bound). */
const MAX_POLL = 64;

export class SocketSends {
  private addon: SockSend | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Waits in a row that saw no socket ready (from QUIET_POLLS on, the next looks without blocking). */
  private emptyPolls = 0;
  private backoffMs = 1;

  /** A download's send, or why it cannot be made. */
  start(sock: number, stallMs: number, minBytes: number, ring: Uint8Array, piped: boolean): Sending | string {
    this.addon ??= sockSend();
    if (!this.addon) return 'this byte thread could not load the socket writer (native/sock-send.cc)';
    const now = performance.now();
    const minimum = Math.max(1, minBytes);
    return {
      sock,
      stallMs,
      minBytes: minimum,
      ring,
      sent: 0,
      pending: undefined,
      windowStart: now,
      windowSent: 0,
      tail: undefined,
      piped,
      inPipe: [],
      next: undefined,
    };
  }

  piece(out: Sending, at: number, len: number): void {
    if (out.piped) out.next = { at, len };
    else out.pending = { at, len };
  }

  /**
   * The last piece's last byte is not written here but by the main thread as it ends the
   * response: a client that has the whole body may hang up at once, and the response must have
   * ended by then or it is logged (and counted) as cut short.
   */
  holdTail(out: Sending): void {
    const p = out.piped ? out.next : out.pending;
    if (!p || p.len === 0 || out.tail) return;
    p.len -= TAIL_BYTES;
    out.tail = { at: p.at + p.len, len: TAIL_BYTES };
    if (p.len > 0) return;
    if (out.piped) out.next = undefined;
    else out.pending = undefined;
  }

  /** Writes what the socket takes of the pending piece: the bytes written, or -errno. */
  write(out: Sending): number {
    const p = out.pending!;
    const n = p.len > 0 ? this.addon!.send(out.sock, out.ring, p.at, p.len) : 0;
    if (n < 0) return n;
    if (n > 0) {
      out.sent += n;
      this.emptyPolls = 0;
      this.backoffMs = 1;
    }
    p.at += n;
    p.len -= n;
    if (p.len === 0) out.pending = undefined;
    return n;
  }

  failure(_out: Sending, errno: number): string {
    const name = errnoName(errno);
    const gone = name === 'EPIPE' || name === 'ECONNRESET';
    return gone ? `the client went away before the blob was sent (${name})` : `writing to the client's socket failed (${name})`;
  }

  /** A window has passed with a piece waiting: the client took less than `minBytes` in it (a stall), or a new window begins. */
  stalled(out: Sending): boolean {
    const now = performance.now();
    if (now - out.windowStart < out.stallMs) return false;
    if (out.sent - out.windowSent < out.minBytes) return true;
    out.windowStart = now;
    out.windowSent = out.sent;
    return false;
  }

  stallFailure(out: Sending): string {
    return `the client took fewer than ${out.minBytes} bytes in ${Math.round(out.stallMs / 1000)} s; the download is given up`;
  }

  turnStarted(): void {
    this.timer = undefined;
  }

  /** Every download of the thread waits on its socket: `next` once one may take bytes (or to look again). */
  waitFor(blocked: Sending[], next: () => void): void {
    const fds = Int32Array.from(blocked.slice(0, MAX_POLL), (o) => o.sock);
    const quiet = this.emptyPolls >= QUIET_POLLS;
    const ready = this.addon!.pollOut(fds, quiet ? 0 : POLL_MS);
    if (ready !== 0) {
      // Ready, or poll failed (a bad fd): either way the next write says what it is.
      next();
      return;
    }
    this.emptyPolls++;
    if (!quiet) {
      next();
      return;
    }
    this.timer = setTimeout(next, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
  }

  /** A turn is due sooner (a message came): the backoff's look is not needed. */
  cancelWait(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
