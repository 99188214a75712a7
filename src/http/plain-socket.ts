/**
 * The fd of a response's plain TCP socket, for a body that writes to the socket from a byte
 * thread (core/direct-body.ts `SendTarget`): HTTP/1.1 only, with no TLS (the bytes on the wire
 * would be TLS records) and no h2 (frames); a pipelined response not yet given its socket has none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TLSSocket } from 'node:tls';
import { isHttp2 } from './request.js';

export function plainSocketFd(req: IncomingMessage, res: ServerResponse): number | undefined {
  if (isHttp2(req) || req.httpVersionMajor !== 1) return undefined;
  const socket = res.socket;
  if (!socket || socket instanceof TLSSocket || socket.destroyed) return undefined;
  // libuv's TCP handle says its fd (Node has no public API for it).
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
