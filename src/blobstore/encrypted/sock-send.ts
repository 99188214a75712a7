/**
 * The socket writer of the byte threads (native/sock-send.cc, built into dist/native by
 * scripts/build-native.mjs): a download's opening thread writes its plaintext to the client's
 * socket itself (open-send.ts), through a dup of the socket's fd, or hands that dup to the send
 * pipe (send-pipe-addon.ts, open-pipe.ts). Optional: where the addon was
 * not built or does not load (or `threadSends` is off), every download's bytes go through the main
 * thread as before (ring-download.ts).
 */
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { lazyLinuxAddon } from '../../core/linux-addon.js';

export interface SockSend {
  /** A close-on-exec dup of `fd` (the socket, shared O_NONBLOCK), or -errno. */
  dup(fd: number): number;
  /** Writes src[at, at + len) until done or the socket is full: the bytes written, or -errno. */
  send(fd: number, src: Uint8Array, at: number, len: number): number;
  /** Waits at most `timeoutMs` for any of `fds` to take bytes: how many can, or -errno. */
  pollOut(fds: Int32Array, timeoutMs: number): number;
}

const ADDON = fileURLToPath(new URL('../../../native/sock-send.node', import.meta.url));

const loaded = lazyLinuxAddon<SockSend>(ADDON);

/** The addon, or undefined (then sockSendUnavailable() says why). Loaded once per thread. */
export function sockSend(): SockSend | undefined {
  return loaded().addon;
}

/** Why byte threads do not write to sockets, or undefined when they can. */
export function sockSendUnavailable(): string | undefined {
  return loaded().why;
}

/** The name of a negated errno the addon returned (EPIPE, ECONNRESET ...). */
export function errnoName(negative: number): string {
  const name = Object.entries(constants.errno).find(([, n]) => n === -negative)?.[0];
  return name ?? `errno ${-negative}`;
}
