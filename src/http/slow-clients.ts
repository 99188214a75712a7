/**
 * Bounds on slow clients, so a connection costs Berth a socket only while bytes keep coming:
 * headers must be complete within a bound, a connection with no request in progress is closed
 * after an idle time, and a body Berth is reading must keep arriving at a minimum rate. Node's
 * own requestTimeout caps a whole request's time and would cut honest multi-gigabyte uploads,
 * so it stays off and the body rule below takes its place (as Kestrel's minimum data rate or
 * Apache's mod_reqtimeout do).
 */
import type { IncomingMessage, ServerOptions } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';
import { hasBody, isHttp2 } from './request.js';

export interface SlowClientLimits {
  headersTimeoutMs: number;
  /** A connection with no request in progress: new, or kept alive between requests. */
  idleTimeoutMs: number;
  /** The window over which a body's progress is judged. */
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
}

export const DEFAULT_SLOW_CLIENT_LIMITS: SlowClientLimits = {
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
  bodyTimeoutMs: 20_000,
  bodyMinBytesPerSecond: 256,
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
  // reads on. The socket outlives this request (keep-alive), so its listeners go when the body
  // is done. After the answer an unread body is still being discarded by Node; that too must
  // keep moving, so the response's end does not stop the watch.
  watchBody(req, limits, {
    flow: socket,
    received: () => socket.bytesRead,
    gone: () => socket.destroyed,
    waitingOnUs: () => req.readableLength >= req.readableHighWaterMark,
    cut: () => socket.destroy(),
  });
}

/** How one body's progress is seen and cut, for HTTP/1.1 (its socket) and h2 (its stream). */
interface BodyFlow {
  /** Emits 'pause' and 'resume' when Berth stops and starts reading. */
  flow: { on(event: 'pause' | 'resume', fn: () => void): unknown; off(event: 'pause' | 'resume', fn: () => void): unknown };
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
  let paused = false;
  let pausedInWindow = false;
  const onPause = (): void => {
    paused = true;
    pausedInWindow = true;
  };
  const onResume = (): void => {
    paused = false;
  };
  const timer = setInterval(() => {
    if (req.complete || body.gone()) {
      stop();
      return;
    }
    const now = body.received();
    const waitingOnUs = pausedInWindow || paused || body.waitingOnUs();
    pausedInWindow = paused;
    if (waitingOnUs || now - mark >= required) {
      mark = now;
      return;
    }
    stop();
    body.cut();
  }, limits.bodyTimeoutMs);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    body.flow.off('pause', onPause);
    body.flow.off('resume', onResume);
  };
  body.flow.on('pause', onPause);
  body.flow.on('resume', onResume);
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
    flow: stream,
    received: () => received,
    gone: () => stream.destroyed || stream.closed,
    // Until the handler first reads, the stream is not flowing and holds what arrives: ours too.
    waitingOnUs: () => stream.readableFlowing !== true || req.readableLength >= req.readableHighWaterMark,
    cut: () => stream.close(constants.NGHTTP2_CANCEL),
  });
}
