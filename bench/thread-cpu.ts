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
  const stats = threadStats(pid);
  const out = {} as Record<ThreadKind, number>;
  for (const kind of Object.keys(stats) as ThreadKind[]) out[kind] = stats[kind].cpu;
  return out;
}

/**
 * What a kind of thread got from the scheduler so far. `waited` is time runnable but not on a CPU
 * (schedstat's second field); `preempted` counts switches away while still runnable (status's
 * nonvoluntary_ctxt_switches), `slept` those where it waited for something (voluntary). Session 17
 * used them to ask whether all-on servers lose their event loop's CPU to other threads more often
 * than all-off ones (notes/2026-12-05-s17-obs.md): twice as often unpinned, but pinning the loop
 * alone to a core removed that and not the gap.
 */
export interface ThreadStats {
  cpu: number;
  waited: number;
  preempted: number;
  slept: number;
}

export function threadStats(pid: number): Record<ThreadKind, ThreadStats> {
  const zero = (): ThreadStats => ({ cpu: 0, waited: 0, preempted: 0, slept: 0 });
  const out: Record<ThreadKind, ThreadStats> = { 'event loop': zero(), 'worker threads': zero(), 'V8 helpers': zero(), 'other threads': zero() };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const t = out[kindOf(pid, tid, comm)];
      t.cpu += run! / 1e9;
      t.waited += wait! / 1e9;
      t.preempted += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      t.slept += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // exited between listing and reading
    }
  }
  return out;
}
