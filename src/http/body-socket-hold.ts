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
 * asks for bytes, which is this.
 *
 * The socket's handle is stopped and started directly, as Node's HTTP server itself does on its
 * socket's 'pause' and 'resume' (`onSocketPause`/`onSocketResume` in `_http_server.js`): going
 * through `socket.pause()`/`resume()` instead, a resume and a pause in the same tick left a late
 * 'resume' event that restarted the reads of a socket Node then believed paused, and the
 * requests' buffers grew without bound (measured: 60 MB of pieces under 200 uploads). Node's own
 * pause of the socket (a full buffer, a pipelined answer backing up) is left alone: a handle is
 * started again here only while Node has the socket flowing, and when the body resumes.
 */
import type { IncomingMessage } from 'node:http';

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
  const release = (): void => {
    held = false;
    const h = handle();
    // Node paused the socket itself meanwhile: Node starts it again when the body is read.
    if (socket.destroyed || socket.readableFlowing === false || !h || h.reading || typeof h.readStart !== 'function') return;
    h.reading = true;
    h.readStart();
  };
  req.on('pause', () => {
    const h = handle();
    if (held || socket.destroyed || !h?.reading || typeof h.readStop !== 'function') return;
    held = true;
    h.reading = false;
    h.readStop();
  });
  req.on('resume', () => {
    // A late 'resume' of a body paused again since: it stays held.
    if (held && req.readableFlowing === true) release();
  });
  // A consumer may go on in paused mode instead (an async iterator, a 'readable' listener), which
  // never resumes: its read() asks for bytes. read(0) is the stream refilling its own buffer
  // after each piece, which must not end a hold.
  const read = req.read;
  req.read = function (this: IncomingMessage, n?: number) {
    if (held && n !== 0) release();
    return read.call(this, n);
  } as typeof req.read;
}
