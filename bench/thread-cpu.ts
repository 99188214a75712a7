/**
 * CPU time of one process by thread kind, from /proc/<pid>/task/<tid>/schedstat (nanoseconds on
 * a CPU; stat's utime and stime count 10 ms ticks, which quantise a thread that runs ~100 ms a
 * round by ±10%). On a shared machine whole-process rates swing 2-4x between rounds; which
 * thread a cost sits on (the event loop, the audit thread, V8's GC helpers) does not swing with
 * them, and says where a difference comes from.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type ThreadKind = 'event loop' | 'worker threads' | 'V8 helpers' | 'other threads';

/** Node names its worker_threads' OS threads WorkerThread (the audit thread is one), V8's platform threads V8Worker. */
function kindOf(pid: number, tid: string, comm: string): ThreadKind {
  if (tid === String(pid)) return 'event loop';
  if (comm === 'WorkerThread') return 'worker threads';
  if (comm === 'V8Worker' || comm.startsWith('V8 ')) return 'V8 helpers';
  return 'other threads';
}

/** Seconds on a CPU so far, by kind of thread, of the live threads of `pid` (a thread that exited takes its time with it). */
export function threadCpuSeconds(pid: number): Record<ThreadKind, number> {
  const out: Record<ThreadKind, number> = { 'event loop': 0, 'worker threads': 0, 'V8 helpers': 0, 'other threads': 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out[kindOf(pid, tid, comm)] += ns / 1e9;
    } catch {
      // exited between listing and reading
    }
  }
  return out;
}
