/**
 * A paused request body stops reading its socket as well, so that the bytes nobody wants yet wait
 * in the kernel's receive buffer instead of in this process. Paused on its own, an HTTP/1.1 body
 * goes on reading its socket until its readable buffer reaches the high-water mark: one more
 * 64 KiB piece, a malloc'd copy held on the main thread for as long as the body stays paused.
 * Bodies are paused most of the time under a crowd of uploads (body pacing, http/body-pacing.ts;
 * an append waiting for a seal slot, encrypted/piece-drive.ts), so that was a piece per upload:
 * under 200 uploads streaming at 1 MB/s, 199 of the 231 body pieces alive on the main thread
 * (11.9 of 13.6 MB) sat in the requests' readable buffers (heap snapshot, retainer chains;
 * notes/2026-12-05-s15-arena.md). The reference registry (Go) reads a body only when its handler
 * asks for bytes, which is this; so a body nobody has read yet is held from its request's start.
 *
 * The socket's handle is stopped and started directly, as Node's HTTP server itself does on its
 * socket's 'pause' and 'resume' (`onSocketPause`/`onSocketResume` in `_http_server.js`): going
 * through `socket.pause()`/`resume()` instead, a resume and a pause in the same tick left a late
 * 'resume' event that restarted the reads of a socket Node then believed paused, and the
 * requests' buffers grew without bound (measured: 60 MB of pieces under 200 uploads). Node's own
 * pause of the socket (a full buffer, a pipelined answer backing up) is left alone: a handle is
 * started again here only while Node has the socket flowing, and when the body is read.
 *
 * Once the parser has the whole body the socket is no longer the body's: its next bytes are the
 * connection's next request. A hold must not outlive that, and none may start after it: a pipe
 * pauses its source when it unpipes a finished destination, after the body's end (the upload
 * path's Meter on S3 stores, registry/uploads.ts), and nobody reads or resumes an ended body, so
 * the connection's next request was never read and the client was cut as idle a minute later
 * (notes/2026-12-05-s16-hold.md).
 */
import type { IncomingMessage } from 'node:http';

/**
 * Bodies held from their request's start whose handler has not read yet (undefined), or when it
 * first read (ms). Before its first read a body is not the client's delay but Berth's (the
 * handler is authenticating, opening its staged blob): see bodyAwaitsReader().
 */
const firstRead = new WeakMap<IncomingMessage, number | undefined>();

/**
 * Whether `req`'s body waits for its handler's first read, or that read came less than `windowMs`
 * ago: a slow-client window that held such a wait is Berth's, not the client's (slow-clients.ts).
 */
export function bodyAwaitsReader(req: IncomingMessage, windowMs: number): boolean {
  if (!firstRead.has(req)) return false;
  const at = firstRead.get(req);
  return at === undefined || Date.now() - at < windowMs;
}

/** What Node's HTTP server uses of a socket's handle (a TCP or TLS wrap). */
interface ReadHandle {
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
}

export function holdSocketWithBody(req: IncomingMessage): void {
  const socket = req.socket;
  const handle = (): ReadHandle | undefined => (socket as unknown as { _handle?: ReadHandle | null })._handle ?? undefined;
  let held = false;
  /** Held from the start and not read yet (a closure flag: release() runs once per pacer turn). */
  let unread = false;
  const release = (): void => {
    held = false;
    if (unread) {
      unread = false;
      firstRead.set(req, Date.now());
    }
    const h = handle();
    // Node paused the socket itself meanwhile: Node starts it again when the body is read.
    if (socket.destroyed || socket.readableFlowing === false || !h || h.reading || typeof h.readStart !== 'function') return;
    h.reading = true;
    h.readStart();
  };
  req.on('pause', () => {
    const h = handle();
    if (held || req.complete || socket.destroyed || !h?.reading || typeof h.readStop !== 'function') return;
    held = true;
    h.reading = false;
    h.readStop();
  });
  // Held from the start too, until the handler first asks for a byte: left alone, Node reads on
  // until the request's buffer passes its high-water mark (64 KiB), which takes a piece more, so
  // each upload whose handler was still authenticating or opening its staged blob held up to two
  // pieces on the main thread: 3.1-3.8 MB at once in 34-94 requests' buffers as a crowd of 50 or
  // 200 uploads started together, 1.9-2.0 MB with this (notes/2026-12-06-s22-main.md).
  const first = handle();
  if (!req.complete && !socket.destroyed && first?.reading && typeof first.readStop === 'function') {
    held = true;
    unread = true;
    firstRead.set(req, undefined);
    first.reading = false;
    first.readStop();
  }
  // Every consumer asks for more bytes through read(): flow() for 'data' listeners, pipes and
  // resume(); async iterators; 'readable' handlers. Not through _read(), which Node skips while a
  // refill is pending, as it is on a held socket. read(0) is the stream refilling its own buffer,
  // which must not end a hold. A resume and a pause in the same tick read nothing (flow() stops
  // at once): the body stays held.
  const read = req.read;
  req.read = function (this: IncomingMessage, n?: number) {
    if (held && n !== 0) release();
    return read.call(this, n);
  } as typeof req.read;
  // The one consumer that waits before it reads: a 'readable' listener added to a held body (Node
  // starts no read for it while the refill is pending). While one is attached, pause() emits no
  // 'pause', so no hold starts under it.
  req.on('newListener', (event: string | symbol) => {
    if (held && event === 'readable') release();
  });
  // The parser ends the body (push(null)) once its last byte is in, possibly from the very socket
  // read whose piece paused it: the rest of the socket is the next request's.
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk === null && held) release();
    return push.call(this, chunk, encoding);
  } as typeof req.push;
}
