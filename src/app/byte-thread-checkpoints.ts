/**
 * The embedded database's WAL checkpoints run on a byte thread (metadata/sqlite/wal-checkpoints.ts
 * says why): one thread, the last, so that a checkpoint's fsync holds up at most that thread's
 * share of the byte work rather than every request on the event loop.
 */
import type { FromCheckpoint, ToCheckpoint } from '../core/sqlite-checkpoint.js';
import type { CheckpointRunner } from '../metadata/sqlite/wal-checkpoints.js';
import type { ByteThread, ByteThreads } from '../blobstore/workers/threads.js';

export function checkpointsOn(threads: ByteThreads): CheckpointRunner {
  const thread: ByteThread = threads.threads[threads.threads.length - 1]!;
  const waiting = new Map<number, { resolve(r: { log: number }): void; reject(e: Error): void }>();
  let next = 0;
  thread.on('checkpoint', (m) => {
    const r = m as FromCheckpoint;
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    thread.hold(-1);
    if (r.error !== undefined) w.reject(new Error(`checkpoint failed on a byte thread: ${r.error}`));
    else w.resolve({ log: r.log ?? 0 });
  });
  thread.onExit((error) => {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  });
  return (path) =>
    new Promise<{ log: number }>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      thread.hold(1);
      const m: ToCheckpoint = { kind: 'checkpoint', id, path };
      thread.post(m);
    });
}
