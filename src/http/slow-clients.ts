/**
 * Bounds on slow clients, so a connection costs Berth a socket only while bytes keep moving:
 * headers must be complete within a bound, a connection with no request in progress is closed
 * after an idle time, a body Berth is reading must keep arriving at a minimum rate, and a
 * response Berth is writing must be taken by the client at a minimum rate. Node's own
 * requestTimeout caps a whole request's time and would cut honest multi-gigabyte uploads and
 * downloads, so it stays off and the two rate rules below take its place (as Kestrel's minimum
 * data rates, Apache's mod_reqtimeout or nginx's send_timeout do).
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { bodyAwaitsReader } from './body-socket-hold.js';
import { hasBody, isHttp2 } from './request.js';
import { noteCut } from './request-facts.js';
import { tcpProgressOf } from './tcp-acked.js';

export interface SlowClientLimits {
  headersTimeoutMs: number;
  /** A connection with no request in progress: new, or kept alive between requests. */
  idleTimeoutMs: number;
  /** The window over which a body's progress is judged. */
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
  /** The window over which a response's progress is judged (ResponseWatch). */
  responseTimeoutMs: number;
  responseMinBytesPerSecond: number;
}

export const DEFAULT_SLOW_CLIENT_LIMITS: SlowClientLimits = {
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
  bodyTimeoutMs: 20_000,
  bodyMinBytesPerSecond: 256,
  responseTimeoutMs: 60_000,
  responseMinBytesPerSecond: 256,
};

/** Node's server options for the limits: header and keep-alive bounds are Node's own. */
export function serverOptions(limits: SlowClientLimits): ServerOptions {
  return {
    keepAliveTimeout: limits.idleTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0,
    // Node checks headersTimeout on this period, so it bounds how late a stalled header is cut.
    connectionsCheckingInterval: Math.min(limits.headersTimeoutMs, 1000),
  };
}

/**
 * A connection that never sends a byte is not covered by headersTimeout (Node starts that clock
 * at the first byte of a request), so sockets get an idle timeout from the moment they connect;
 * with no 'timeout' listener on the server, Node destroys a socket whose timeout fires.
 */
export function limitIdleConnections(server: { setTimeout(ms: number): unknown }, limits: SlowClientLimits): void {
  server.setTimeout(limits.idleTimeoutMs);
}

/**
 * Called for each request. Once a request is under way the socket idle timeout is lifted (a
 * handler may legitimately work for minutes without touching the socket, e.g. verifying a large
 * staged blob); Node arms keepAliveTimeout again after the response. While the body is being
 * received, every window must bring the minimum number of bytes, or the connection is closed.
 * Time in which Berth itself is not reading (the body buffer is full: backpressure from the
 * store) does not count against the client.
 */
export function watchRequest(req: IncomingMessage, limits: SlowClientLimits): void {
  if (isHttp2(req)) {
    watchStream(req, limits);
    return;
  }
  const socket = req.socket;
  socket.setTimeout(0);
  if (req.complete || !hasBody(req)) return;
  // Node pauses the socket whenever the body buffer is full, and resumes it when the handler
  // reads on; a paused body stops its socket's reads without a word to the socket's stream
  // (body-socket-hold.ts), so the body's own pauses count too. The socket outlives this request
  // (keep-alive), so its listeners go when the body is done. After the answer an unread body is
  // still being discarded by Node; that too must keep moving, so the response's end does not
  // stop the watch.
  watchBody(req, limits, {
    flows: [socket, req],
    received: () => socket.bytesRead,
    gone: () => socket.destroyed,
    // Its socket is also held from the request's start until the handler first reads (body-socket-hold.ts).
    waitingOnUs: () => req.readableLength >= req.readableHighWaterMark || bodyAwaitsReader(req, limits.bodyTimeoutMs),
    cut: () => socket.destroy(),
  });
}

/** How one body's progress is seen and cut, for HTTP/1.1 (its socket) and h2 (its stream). */
interface BodyFlow {
  /** Each emits 'pause' and 'resume' when Berth stops and starts reading (Berth reads while none is paused). */
  flows: Array<{ on(event: 'pause' | 'resume', fn: () => void): unknown; off(event: 'pause' | 'resume', fn: () => void): unknown }>;
  received(): number;
  gone(): boolean;
  /** Berth is not reading for another reason than a pause (its buffer is full, say). */
  waitingOnUs(): boolean;
  cut(): void;
}

/**
 * Every window must bring the minimum number of bytes, or the body is cut; a window with any
 * pause in it was (partly) Berth's own, so it is not judged.
 */
function watchBody(req: IncomingMessage, limits: SlowClientLimits, body: BodyFlow): void {
  const required = Math.max(1, Math.ceil((limits.bodyMinBytesPerSecond * limits.bodyTimeoutMs) / 1000));
  let mark = body.received();
  /** The flows paused now. */
  const pausedNow = new Set<object>();
  let pausedInWindow = false;
  const watchers = body.flows.map((flow) => {
    const onPause = (): void => {
      pausedNow.add(flow);
      pausedInWindow = true;
    };
    const onResume = (): void => {
      pausedNow.delete(flow);
    };
    return { flow, onPause, onResume };
  });
  const timer = setInterval(() => {
    if (req.complete || body.gone()) {
      stop();
      return;
    }
    const now = body.received();
    const paused = pausedNow.size > 0;
    const waitingOnUs = pausedInWindow || paused || body.waitingOnUs();
    pausedInWindow = paused;
    if (waitingOnUs || now - mark >= required) {
      mark = now;
      return;
    }
    stop();
    noteCut(req, 'request body below the minimum rate');
    body.cut();
  }, limits.bodyTimeoutMs);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    for (const w of watchers) {
      w.flow.off('pause', w.onPause);
      w.flow.off('resume', w.onResume);
    }
  };
  for (const w of watchers) {
    w.flow.on('pause', w.onPause);
    w.flow.on('resume', w.onResume);
  }
  req.once('end', stop);
  req.once('close', stop);
}

/**
 * The body rule for an h2 request, judged per stream: the session carries other requests (and
 * its socket's counters are theirs too), and its idle rule is h2.ts's. Bytes are counted as the
 * stream hands them to the request; a window in which Berth was not reading (not yet, its buffer
 * full, or the handler waiting on the store) is not judged. A stream too slow is reset alone
 * (CANCEL).
 */
function watchStream(req: IncomingMessage & { stream: ServerHttp2Stream }, limits: SlowClientLimits): void {
  if (req.complete || !hasBody(req)) return;
  const stream = req.stream;
  let received = 0;
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding) {
    if (chunk instanceof Uint8Array) received += chunk.byteLength;
    return push.call(this, chunk, encoding);
  };
  watchBody(req, limits, {
    flows: [stream],
    received: () => received,
    gone: () => stream.destroyed || stream.closed,
    // Until the handler first reads, the stream is not flowing and holds what arrives: ours too.
    waitingOnUs: () => stream.readableFlowing !== true || req.readableLength >= req.readableHighWaterMark,
    cut: () => stream.close(constants.NGHTTP2_CANCEL),
  });
}

/**
 * The response rule: while Berth has response bytes the client has not taken (they wait in
 * Node's buffers, its kernel send buffer being full), every responseTimeoutMs the client must
 * take at least responseMinBytesPerSecond × that window (at least one byte), or the connection
 * is cut (h2: the stream is reset, CANCEL). Cutting is what releases the response's resources:
 * the response closes, so a download's ring, blob file and byte-thread work go as they go when
 * a client hangs up. Without it a client that stops reading held them forever (a download lifts
 * the socket's timeout, requestTimeout is 0).
 *
 * Judged on a sliding window of SLICES slices, one sweep over every connection per slice: no
 * timer per request, and connections are registered when accepted, so an HTTP/1.1 request pays
 * nothing (a first version kept each request in the rule's state: manifest GETs measured dearer).
 * A slice counts only if Berth had bytes waiting at both its ends: a response waiting on the
 * store (S3, a slow disk) has nothing waiting and is not held against the client. What a client
 * has "taken" is what the kernel accepted, and the kernel accepts in steps: writable again only
 * once a third or so of its send buffer drained (on loopback, 2–4 MB at a time; on a real link,
 * a fraction of the link's bandwidth-delay product). A reader slower than one such step per
 * window is cut, as nginx's send_timeout (no successful write for 60 s) cuts it: the same grain,
 * the same default window.
 */
export class ResponseWatch {
  private readonly watched = new Map<Socket | ServerHttp2Stream, Progress>();
  private readonly timer: NodeJS.Timeout;
  private readonly required: number;

  constructor(limits: Pick<SlowClientLimits, 'responseTimeoutMs' | 'responseMinBytesPerSecond'>) {
    this.required = Math.max(1, Math.ceil((limits.responseMinBytesPerSecond * limits.responseTimeoutMs) / 1000));
    this.timer = setInterval(() => this.sweep(), Math.max(1, Math.floor(limits.responseTimeoutMs / SLICES)));
    this.timer.unref();
  }

  /**
   * Called for each connection once its bytes are the response's (plain: accepted; TLS: secured),
   * not per request: a request costs nothing here. An HTTP/1.1 connection is judged as a whole
   * (its responses take turns on it). An h2 session writes below its socket's stream, so nothing
   * shows waiting there: its streams are judged one by one (watch), and a session left with none
   * open is closed by the idle rule (h2.ts).
   */
  connection(socket: Socket, tls = false): void {
    const s = socket as Socket & { _httpMessage?: ServerResponse | null };
    this.add(socket, tls ? tlsMeter(socket) : socketMeter(socket), () => {
      // The response on the socket now (Node's own field): its request's record says why it ended.
      const req = s._httpMessage?.req;
      if (req) noteCut(req, RESPONSE_CUT);
      socket.destroy();
    });
  }

  /** Called for each request; an h2 stream is judged on its own (its window is the client's to open). */
  watch(req: IncomingMessage, res: ServerResponse): void {
    if (!isHttp2(req)) return;
    const stream = (res as unknown as { stream: ServerHttp2Stream }).stream;
    this.add(stream, streamMeter(stream), () => {
      noteCut(req, RESPONSE_CUT);
      // A stream the client already reset with NO_ERROR is closed but not destroyed (h2.ts):
      // close() would do nothing to it.
      if (stream.closed) stream.destroy();
      else stream.close(constants.NGHTTP2_CANCEL);
    });
  }

  /** Connections and streams watched now (for tests and diagnostics). */
  get size(): number {
    return this.watched.size;
  }

  close(): void {
    clearInterval(this.timer);
    this.watched.clear();
  }

  private add(key: Socket | ServerHttp2Stream, meter: Meter, cut: () => void): void {
    if (key.destroyed) return;
    const p: Progress = { meter, cut, taken: meter.taken(), waiting: false, slices: [] };
    this.watched.set(key, p);
    key.once('close', () => this.watched.delete(key));
  }

  private sweep(): void {
    for (const [key, p] of this.watched) {
      const waiting = p.meter.waiting();
      const taken = p.meter.taken();
      // A TLS record's overhead can make the count dip as a write is queued: never backwards.
      const progress = Math.max(0, taken - p.taken);
      p.taken = Math.max(taken, p.taken);
      const judged = waiting && p.waiting;
      p.waiting = waiting;
      if (!judged) {
        p.slices.length = 0;
        continue;
      }
      p.slices.push(progress);
      if (p.slices.length < SLICES) continue;
      let sum = 0;
      for (const n of p.slices) sum += n;
      p.slices.shift();
      if (sum >= this.required) continue;
      this.watched.delete(key);
      p.cut();
    }
  }
}

/** What the access log says of a response cut by this rule. */
const RESPONSE_CUT = 'response taken below the minimum rate';

/** Records that `req`'s response was cut by this rule where it was judged elsewhere (a download its byte thread sends). */
export function noteResponseCut(req: IncomingMessage): void {
  noteCut(req, RESPONSE_CUT);
}

/** Slices per window: a stalled reader is cut between one window and 1¼ windows after its last byte. */
const SLICES = 4;

interface Meter {
  /** Bytes the client has taken so far (a count that only matters by its differences). */
  taken(): number;
  /** Berth has bytes for this client that it has not taken. */
  waiting(): boolean;
}

interface Progress {
  meter: Meter;
  /** Notes why on the request(s) it ends, and cuts. */
  cut: () => void;
  taken: number;
  waiting: boolean;
  /** Bytes taken in each judged slice of the current window, oldest first. */
  slices: number[];
}

type Internals = { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null };

/**
 * An HTTP/1.1 connection (plain or TLS): bytes handed to the handle, less those its write queue
 * still holds, is what the kernel took (libuv updates the queue as partial writes go through,
 * where a write's callback comes only once all of it went). Node keeps no public count of it;
 * without these fields, the completed writes are counted instead.
 */
function socketMeter(socket: Socket): Meter {
  const s = socket as Socket & Internals;
  return {
    taken: () => {
      const dispatched = s._bytesDispatched;
      const queued = s._handle?.writeQueueSize;
      if (typeof dispatched === 'number' && typeof queued === 'number') return dispatched - queued;
      return s.bytesWritten - s.writableLength;
    },
    waiting: () => s.writableLength > 0,
  };
}

/**
 * A TLS connection: what its client acknowledged at the TCP level, where that can be read
 * (tcp-acked.ts), else as a plain socket. The TLS socket's own counts move only as a whole write
 * (a download's 1 MiB slot, in records) has gone into the kernel, which takes it in steps of a
 * third of its send buffer: ~5 MB a step on loopback, so an honest reader taking 0.6 MB/s on a
 * loaded machine (s19-h2's runs) could show nothing in a 6 s window and be cut. ACKs move with
 * every segment the client's kernel took, and stop once its receive buffer is full, i.e. once
 * the client stops reading: the same rule, a byte's grain. And a window in which the kernel held
 * nothing unacknowledged is not held against the client.
 */
function tlsMeter(socket: Socket): Meter {
  const plain = socketMeter(socket);
  const tcp = tcpProgressOf(socket);
  if (!tcp) return plain;
  let last = 0;
  return {
    // Gone (the fd closed): the last count; the rule stops watching a closed socket anyway.
    taken: () => (last = tcp.acked() ?? last),
    // Bytes wait on the client only while the kernel holds some it has not acknowledged: with
    // none there, what Node still holds waits on Berth (a loop too busy to encrypt and write).
    waiting: () => plain.waiting() && tcp.queued(),
  };
}

/**
 * An h2 stream: its writes complete once the session has framed them for the socket, which it
 * does only as the client's flow-control window lets it; the completed writes are the count.
 */
function streamMeter(stream: ServerHttp2Stream): Meter {
  let taken = 0;
  const s = stream as ServerHttp2Stream & {
    _write(chunk: Uint8Array | string, encoding: BufferEncoding, cb: (e?: Error | null) => void): void;
    _writev(chunks: Array<{ chunk: Uint8Array | string }>, cb: (e?: Error | null) => void): void;
  };
  const write = s._write;
  const writev = s._writev;
  s._write = function (chunk, encoding, cb) {
    write.call(this, chunk, encoding, (e) => {
      taken += lengthOf(chunk);
      cb(e);
    });
  };
  s._writev = function (chunks, cb) {
    writev.call(this, chunks, (e) => {
      for (const c of chunks) taken += lengthOf(c.chunk);
      cb(e);
    });
  };
  return { taken: () => taken, waiting: () => stream.writableLength > 0 };
}

function lengthOf(chunk: Uint8Array | string): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
}
