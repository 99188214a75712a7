/**
 * CPU time and resident memory of a server, read from /proc. A server is its process and every
 * descendant: a registry that moves work to worker threads or child processes must be charged
 * for it, so figures cover the whole tree (threads are already in a process's own counters).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself hold spaces and parentheses.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Live children of every thread of `pid`, and their children, depth first. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // exited meanwhile
    }
    for (const t of tasks) {
      let kids = '';
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.split(' ').filter(Boolean).map(Number)) {
        out.push(k);
        visit(k);
      }
    }
  };
  visit(pid);
  return out;
}

/** utime + stime of all threads, plus cutime + cstime: children already waited for. */
function processCpuTicks(pid: number): number {
  try {
    const f = statFields(pid);
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0; // exited between listing and reading: its time moves to its parent's cutime
  }
}

/** User + system CPU seconds the server's whole process tree has used so far. */
export function cpuSeconds(pid: number): number {
  let ticks = processCpuTicks(pid);
  for (const d of descendants(pid)) ticks += processCpuTicks(d);
  return ticks / TICKS_PER_SECOND;
}

function processRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of the server's process tree (shared pages counted once per process). */
export function rssBytes(pid: number): number {
  let total = processRss(pid);
  for (const d of descendants(pid)) total += processRss(d);
  return total;
}

/** Samples RSS every 50 ms until stopped; returns the peak. */
export function watchPeakRss(pid: number): () => number {
  let peak = rssBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
  // A part that fails before stopping its watch must not keep the run from ending.
  timer.unref();
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssBytes(pid));
  };
}
