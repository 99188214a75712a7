/**
 * The bytes a TLS connection's client has acknowledged, from the TCP socket under it (the optional
 * addon native/tcp-acked.cc, built into dist/native by scripts/build-native.mjs): the response
 * rule's finest view of a TLS reader (slow-clients.ts). Undefined where the addon did not load,
 * the kernel has no such count, or the socket shows no fd: the rule then counts completed writes.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';

interface TcpAcked {
  acked(fd: number): number;
  queued(fd: number): number;
}

/** What the TCP socket under a TLS one says of its client, read at each call. */
export interface TcpProgress {
  /** Bytes the client acknowledged so far, or undefined once the socket is gone. */
  acked(): number | undefined;
  /** Whether the kernel holds bytes the client has not acknowledged (false once the socket is gone). */
  queued(): boolean;
}

const ADDON = fileURLToPath(new URL('../../native/tcp-acked.node', import.meta.url));

let addon: TcpAcked | null | undefined;

function load(): TcpAcked | null {
  if (process.platform !== 'linux') return null;
  try {
    return createRequire(import.meta.url)(ADDON) as TcpAcked;
  } catch {
    return null;
  }
}

/** Node's TLS socket over a TCP one: its handle (TLSWrap) keeps the TCP handle as `_parent`. */
type TlsInternals = { _handle?: { _parent?: { fd?: number } | null } | null };

/** The TCP-level view of `socket`'s client, or undefined where it cannot be read here. */
export function tcpProgressOf(socket: Socket): TcpProgress | undefined {
  addon ??= load();
  const a = addon;
  const fdOf = () => (socket.destroyed ? undefined : (socket as Socket & TlsInternals)._handle?._parent?.fd);
  const fd = fdOf();
  if (!a || typeof fd !== 'number' || fd < 0 || a.acked(fd) < 0) return undefined;
  // The fd is read from the handle each time: Node closes it with the socket, and a number kept
  // from before could name another file by then.
  return {
    acked: () => {
      const now = fdOf();
      const n = typeof now === 'number' && now >= 0 ? a.acked(now) : -1;
      return n < 0 ? undefined : n;
    },
    queued: () => {
      const now = fdOf();
      return typeof now === 'number' && now >= 0 && a.queued(now) > 0;
    },
  };
}
