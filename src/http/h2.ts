/**
 * HTTP/2 beside HTTP/1.1 on the HTTPS port: ALPN offers `h2` and `http/1.1`, so clients that
 * offer h2 (curl, Go's default transport, the AWS SDKs' h2 handlers) multiplex over one
 * connection and everything else keeps HTTP/1.1. Requests of both arrive at the same handler
 * through Node's compatibility layer.
 *
 * What an h2 session may cost is bounded here: streams open at once, header list size, an idle
 * session (no stream open) is closed with GOAWAY, resets are bounded (CVE-2023-44487, "rapid
 * reset", below). The per-stream body rate is slow-clients.ts's.
 */
import { createServer as createHttpServer, Server as HttpServer, type ServerOptions } from 'node:http';
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type Http2ServerRequest,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SlowClientLimits } from './slow-clients.js';

export interface Http2Limits {
  /** Streams a session may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
  /** A request's header list (SETTINGS_MAX_HEADER_LIST_SIZE; HTTP/1.1's maxHeaderSize too). */
  maxHeaderBytes: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2Limits = { maxConcurrentStreams: 100, maxHeaderBytes: 16 * 1024 };

/**
 * Rapid reset (CVE-2023-44487): a stream the client resets aborts its handler (server.ts turns
 * the response's early 'close' into the request's AbortSignal) and counts against the session's
 * concurrency until that handler has returned (HandlersInFlight, below). nghttp2 (≥ 1.57; 1.70 in
 * Node 24) also rate-limits resets with a token bucket, then GOAWAY; set here to its defaults so
 * that the bound is visible, but which resets it counts depends on frame batching, so it is a
 * backstop. Streams refused beyond the limit count against maxSessionRejectedStreams (Node's
 * refusals) or MAX_REJECTED_STREAMS (ours), after which the session is closed.
 */
const RESET_BURST = 1000;
const RESET_RATE_PER_SECOND = 33;
const MAX_REJECTED_STREAMS = 100;

/**
 * Receive windows: the protocol's default (64 KiB per stream and per connection) would hold a
 * layer upload to 64 KiB per round trip (about 1.3 MB/s at 50 ms); Go's server allows 1 MiB.
 * A window is also what a paused stream may have buffered, so the connection's bounds the
 * memory one session can hold in unread bodies.
 */
const STREAM_WINDOW_BYTES = 1024 * 1024;
const SESSION_WINDOW_BYTES = 4 * 1024 * 1024;

/** The one-port server: plain HTTP/1.1, or HTTPS offering h2 and HTTP/1.1. */
export type BerthServer = HttpServer | Http2SecureServer;

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

export function createServerFor(
  tls: TlsPair | undefined,
  http1: ServerOptions,
  limits: SlowClientLimits & Http2Limits,
  /** Settles when the request's handling is over (h2 counts handlers in flight per session). */
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): BerthServer {
  const options = { ...http1, maxHeaderSize: limits.maxHeaderBytes };
  if (!tls) return createHttpServer(options, (req, res) => void listener(req, res));
  const handlers = new HandlersInFlight(limits.maxConcurrentStreams);
  const server = createSecureServer(
    {
      // Node's HTTP/1.1 server options apply to the connections that negotiate http/1.1.
      ...options,
      ...tls,
      allowHTTP1: true,
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderBytes,
        initialWindowSize: STREAM_WINDOW_BYTES,
        enablePush: false,
      },
      maxSessionRejectedStreams: MAX_REJECTED_STREAMS,
      streamResetBurst: RESET_BURST,
      streamResetRate: RESET_RATE_PER_SECOND,
    },
    // The compatibility layer's request and response serve where Node's HTTP/1.1 ones do.
    ((req: IncomingMessage, res: ServerResponse) => {
      if (req.httpVersionMajor !== 2) void listener(req, res);
      else handlers.run(req as unknown as Http2ServerRequest, () => listener(req, res));
    }) as unknown as (req: Http2ServerRequest) => void,
  );
  const sessions = new Set<ServerHttp2Session>();
  sessionsOf.set(server, sessions);
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    closeWhenIdle(session, limits.idleTimeoutMs);
    session.on('stream', destroyWhenPeerResets);
  });
  return server;
}

const sessionsOf = new WeakMap<Http2SecureServer, Set<ServerHttp2Session>>();

/**
 * The deterministic half of the rapid-reset defence, as Go's server has it: a stream the client
 * resets frees its slot in nghttp2's count at once, but its handler may still be working, so
 * handlers are counted per session until they return. A stream arriving while the session has
 * maxConcurrentStreams handlers running is refused (REFUSED_STREAM, safe to retry); a session
 * that goes on opening streams regardless is sent GOAWAY ENHANCE_YOUR_CALM and closed.
 */
class HandlersInFlight {
  private readonly running = new WeakMap<Http2Session, { handlers: number; refused: number }>();

  constructor(private readonly max: number) {}

  run(req: Http2ServerRequest, handle: () => Promise<void>): void {
    const session = req.stream.session;
    if (!session) return;
    let state = this.running.get(session);
    if (!state) this.running.set(session, (state = { handlers: 0, refused: 0 }));
    if (state.handlers >= this.max) {
      req.stream.close(constants.NGHTTP2_REFUSED_STREAM);
      if (++state.refused > MAX_REJECTED_STREAMS && !session.destroyed) {
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
      return;
    }
    state.handlers++;
    const done = (): void => {
      state.handlers--;
    };
    handle().then(done, done);
  }
}

/**
 * A stream the client resets with NO_ERROR (node:http2's `stream.close()` default) is left open
 * by Node: it destroys a closed stream only for a non-zero code or once its writes are finished,
 * and a reset stream's writes never finish. Its response then never emits 'close', so a download
 * held its ring, its budget share and its blob file until the response rule cut it (60–75 s),
 * while nghttp2 had already freed the stream's slot: open, reset, open again, without limit in
 * one session. Node marks such a stream closed and emits 'aborted' (its response not yet ended);
 * it is destroyed then, as a non-zero code would have it. A reset after the response ended (its
 * last bytes still queued) emits nothing that a normal close does not; the response rule
 * destroys that one (slow-clients.ts).
 */
function destroyWhenPeerResets(stream: ServerHttp2Stream): void {
  stream.once('aborted', () => {
    // 'aborted' is emitted from inside Node's close handling, which goes on with the stream.
    process.nextTick(() => {
      if (stream.closed && !stream.destroyed) stream.destroy();
    });
  });
}

/**
 * Node's session timer restarts on any frame, a PING included, so a client could hold a session
 * with no request forever; here a session is idle while it has no stream open, as an HTTP/1.1
 * connection is between requests, and is then closed (GOAWAY) after the idle time. A session
 * whose first request's headers never complete has no stream open either.
 */
function closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
  session.setTimeout(0);
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => {
      session.close();
      // close() waits for streams; one the peer never finishes opening must not keep it.
      setTimeout(() => session.destroy(), idleMs).unref();
    }, idleMs);
    timer.unref();
  };
  arm();
  session.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      if (--open === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once('close', () => clearTimeout(timer));
}

/** Every connection, HTTP/1.1 or h2, cut now: the end of a graceful shutdown's grace period. */
export function closeAllConnections(server: BerthServer): void {
  if (server instanceof HttpServer) {
    server.closeAllConnections();
    return;
  }
  // The HTTP/1.1 side of an allowHTTP1 server tracks its connections as an http.Server does.
  (HttpServer.prototype.closeAllConnections as (this: unknown) => void).call(server);
  for (const session of sessionsOf.get(server) ?? []) session.destroy();
}

/**
 * Starts a graceful close: no new connections; idle HTTP/1.1 connections closed; h2 sessions
 * told GOAWAY (Node's Http2SecureServer.close does it), so requests in flight finish.
 */
export function beginClose(server: BerthServer, done: () => void): void {
  server.close(() => done());
  // Node's Http2SecureServer has it too (its HTTP/1.1 side), not in its types.
  (server as HttpServer).closeIdleConnections();
}
