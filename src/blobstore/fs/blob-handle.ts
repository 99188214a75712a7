/**
 * A stored blob's file opened for positional reads (BlobStore.open), two ways, chosen per
 * download by the SyncGate:
 *
 * - inline: open(2), fstat(2), the reads the caller makes with readSync and close(2) on the
 *   calling thread, each timed for the gate. For a name in the page cache each is a few µs, less
 *   than a thread-pool round trip and the FileHandle promises, which were a third of a 512-byte
 *   GET's main thread (session 13's profile);
 * - async: the same calls through libuv's pool (raw-fd callbacks, the cheapest route), so a slow
 *   disk keeps a pool thread waiting, not the event loop. No readSync is offered.
 */
import { close, closeSync, fstat, fstatSync, open, openSync, read, readSync } from 'node:fs';
import type { Digest } from '../../core/digest.js';
import { BlobNotFoundError, type BlobHandle } from '../blob-store.js';
import type { SyncGate } from './sync-gate.js';

export async function openBlobFile(path: string, digest: Digest, gate: SyncGate): Promise<BlobHandle> {
  return gate.opensInline() ? openInline(path, digest, gate) : openAsync(path, digest);
}

function openInline(path: string, digest: Digest, gate: SyncGate): BlobHandle {
  let fd: number;
  try {
    fd = gate.time(() => openSync(path, 'r'));
  } catch (e) {
    if (isNotFound(e)) throw new BlobNotFoundError(digest);
    throw e;
  }
  let size: number;
  try {
    size = gate.time(() => fstatSync(fd).size);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let closed = false;
  return {
    size,
    fd,
    read: (into, position) => readAsync(fd, into, position),
    readSync: (into, position) => gate.time(() => readFully(fd, into, position)),
    close: async () => {
      if (closed) return;
      closed = true;
      gate.time(() => closeSync(fd));
    },
  };
}

async function openAsync(path: string, digest: Digest): Promise<BlobHandle> {
  const fd = await new Promise<number>((resolve, reject) =>
    open(path, 'r', (err, fd) => (err ? reject(isNotFound(err) ? new BlobNotFoundError(digest) : err) : resolve(fd))),
  );
  let size: number;
  try {
    size = await new Promise<number>((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size))));
  } catch (e) {
    close(fd, () => undefined);
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    size,
    fd,
    read: (into, position) => readAsync(fd, into, position),
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
      return closed;
    },
  };
}

function readAsync(fd: number, into: Buffer, position: number): Promise<number> {
  return new Promise<number>((resolve, reject) => read(fd, into, 0, into.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Reads `into.length` bytes at `position`, fewer only at the end of the file; returns how many. */
function readFully(fd: number, into: Buffer, position: number): number {
  let have = 0;
  while (have < into.length) {
    const n = readSync(fd, into, have, into.length - have, position + have);
    if (n === 0) break;
    have += n;
  }
  return have;
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
