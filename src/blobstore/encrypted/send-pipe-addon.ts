/**
 * The send pipe's addon (native/send-pipe.cc, built into dist/native by scripts/build-native.mjs):
 * a thread per byte thread that writes a download's queued pieces to its socket while the byte
 * thread opens the next ones (open-pipe.ts). Optional: where it was not built or does not load,
 * a byte thread writes its downloads itself (open-send.ts), as with `sendPipe` off.
 */
import { fileURLToPath } from 'node:url';
import { lazyLinuxAddon } from '../../core/linux-addon.js';

export interface SendPipeAddon {
  /**
   * Starts this thread's send pipe (once per thread): true, or -errno. `onDone` is called on this
   * thread. `batch`: the pipe's thread runs as SCHED_BATCH (default false; open-pipe.ts says why).
   */
  pipe(onDone: (job: number, written: number, errno: number) => void, batch?: boolean): true | number;
  /** Queues src[at, at + len) (len > 0) for `fd`; src stays alive and unchanged until onDone(job) or pipeCancel(job). */
  pipeSend(job: number, fd: number, src: Uint8Array, at: number, len: number): void;
  /** Bytes of `job` written so far, or -1 once the pipe no longer has it. */
  pipeProgress(job: number): number;
  /** Takes `job` back (no onDone follows; the pipe no longer touches its fd or bytes): bytes it had written, or -1 if already done. */
  pipeCancel(job: number): number;
}

const ADDON = fileURLToPath(new URL('../../../native/send-pipe.node', import.meta.url));

const loaded = lazyLinuxAddon<SendPipeAddon>(ADDON);

/** The addon, or undefined (then sendPipeUnavailable() says why). Loaded once per thread. */
export function sendPipeAddon(): SendPipeAddon | undefined {
  return loaded().addon;
}

/** Why byte threads have no send pipe, or undefined when they can. */
export function sendPipeUnavailable(): string | undefined {
  return loaded().why;
}
