/**
 * What the kernel did during one bench round, so a slow round says why in the log: each thread of
 * the server's process tree (user and system seconds and minor faults from its stat, run-queue
 * wait from its schedstat), the machine's counters of reclaim, compaction, huge pages, faults and
 * writeback (/proc/vmstat), dirty and cached memory before and after (/proc/meminfo), pressure
 * stall time (/proc/pressure: cpu, memory, io) and the machine's busy and steal time (/proc/stat). A snapshot is a
 * few dozen small reads of /proc: cheap beside a round of seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { descendants } from './proc-stats.js';

const TICKS_PER_SECOND = 100;

/** vmstat counters whose change in a round is printed (allocstall_* are summed). */
const VM_COUNTERS = [
  'allocstall',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'pgscan_direct',
  'pgscan_kswapd',
  'pgsteal_direct',
  'pgsteal_kswapd',
  'thp_fault_alloc',
  'thp_collapse_alloc',
  'pgmajfault',
  'pgfault',
  'workingset_refault_file',
  'workingset_activate_file',
  'nr_dirtied',
  'nr_written',
] as const;
/** Counters that say the kernel had to find memory the hard way; "none" when all stay still. */
const HARD_WAY = ['allocstall', 'compact_stall', 'pgscan_direct', 'pgscan_kswapd'];
const MEMINFO = ['MemFree', 'Cached', 'Dirty', 'Writeback'] as const;

interface ThreadTimes {
  name: string;
  user: number;
  system: number;
  /** Seconds runnable but waiting for a CPU. */
  wait: number;
  /** Minor page faults: each maps a page into the process, ~10 µs of system time on this VM. */
  faults: number;
}

export interface Snapshot {
  at: number;
  threads: Map<string, ThreadTimes>;
  vm: Record<string, number>;
  /** kB, as /proc/meminfo gives them. */
  mem: Record<string, number>;
  /** Microseconds of stall, "memory some" etc. */
  psi: Record<string, number>;
  /** Ticks: all CPUs busy (not idle or iowait), stolen by the host, waiting on I/O. */
  cpu: { busy: number; steal: number; iowait: number };
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // a thread that exited meanwhile, or a kernel without the file
  }
};

function threadsOf(pid: number): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const p of [pid, ...descendants(pid)]) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const stat = read(`/proc/${p}/task/${tid}/stat`);
      if (!stat) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const wait = Number(read(`/proc/${p}/task/${tid}/schedstat`).split(' ')[1] ?? 0) / 1e9;
      // The process's first thread is its main thread (Node's event loop); the rest by name and id.
      const name = tid === String(p) ? `${comm}:main` : `${comm}:${tid}`;
      const user = Number(f[11]) / TICKS_PER_SECOND;
      out.set(`${p}/${tid}`, { name, user, system: Number(f[12]) / TICKS_PER_SECOND, wait, faults: Number(f[7]) });
    }
  }
  return out;
}

function vmCounters(): Record<string, number> {
  const all: Record<string, number> = {};
  for (const line of read('/proc/vmstat').split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v) all[k] = Number(v);
  }
  const out: Record<string, number> = {};
  for (const k of VM_COUNTERS) out[k] = all[k] ?? 0;
  for (const [k, v] of Object.entries(all)) if (k.startsWith('allocstall_')) out.allocstall! += v;
  out.nr_dirty = all.nr_dirty ?? 0;
  return out;
}

function memInfo(): Record<string, number> {
  const text = read('/proc/meminfo');
  const out: Record<string, number> = {};
  for (const k of MEMINFO) out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return out;
}

function pressure(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of ['cpu', 'memory', 'io']) {
    for (const line of read(`/proc/pressure/${kind}`).split('\n')) {
      const m = /^(some|full) .*total=(\d+)/.exec(line);
      if (m) out[`${kind} ${m[1]}`] = Number(m[2]);
    }
  }
  return out;
}

function cpuTicks(): Snapshot['cpu'] {
  const f = read('/proc/stat').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busy: user + nice + system + irq + softirq, steal, iowait };
}

export function snapshot(pid: number): Snapshot {
  return { at: performance.now(), threads: threadsOf(pid), vm: vmCounters(), mem: memInfo(), psi: pressure(), cpu: cpuTicks() };
}

export interface RoundStats {
  seconds: number;
  load: number;
  /** Seconds, all CPUs together. */
  machine: { busy: number; steal: number; iowait: number };
  /** Threads that ran ≥ 10 ms in the round, busiest first. */
  threads: Array<ThreadTimes>;
  vm: Record<string, number>;
  memBefore: Record<string, number>;
  memAfter: Record<string, number>;
  /** Milliseconds of stall in the round. */
  psi: Record<string, number>;
}

export function roundStats(a: Snapshot, b: Snapshot): RoundStats {
  const threads: ThreadTimes[] = [];
  for (const [key, t] of b.threads) {
    const t0 = a.threads.get(key) ?? { user: 0, system: 0, wait: 0, faults: 0 };
    const d = { name: t.name, user: t.user - t0.user, system: t.system - t0.system, wait: t.wait - t0.wait, faults: t.faults - t0.faults };
    if (d.user + d.system >= 0.01) threads.push(d);
  }
  threads.sort((x, y) => y.user + y.system - (x.user + x.system));
  const vm: Record<string, number> = {};
  for (const k of Object.keys(b.vm)) vm[k] = k === 'nr_dirty' ? b.vm[k]! : b.vm[k]! - (a.vm[k] ?? 0);
  const psi: Record<string, number> = {};
  for (const k of Object.keys(b.psi)) psi[k] = (b.psi[k]! - (a.psi[k] ?? 0)) / 1000;
  const ticks = (k: keyof Snapshot['cpu']) => (b.cpu[k] - a.cpu[k]) / TICKS_PER_SECOND;
  return {
    seconds: (b.at - a.at) / 1000,
    load: loadavg()[0]!,
    machine: { busy: ticks('busy'), steal: ticks('steal'), iowait: ticks('iowait') },
    threads,
    vm,
    memBefore: a.mem,
    memAfter: b.mem,
    psi,
  };
}

const s2 = (x: number) => x.toFixed(2);
const mb = (kB: number) => (kB / 1024).toFixed(0);

/** A few lines for the bench log, indented under the round's own line. */
export function describe(r: RoundStats): string {
  const shown = r.threads.slice(0, 6);
  const rest = r.threads.slice(6).reduce((s, t) => ({ user: s.user + t.user, system: s.system + t.system }), { user: 0, system: 0 });
  const threads = shown.map((t) => `${t.name} ${s2(t.user)}/${s2(t.system)} (wait ${s2(t.wait)}, ${t.faults} faults)`);
  if (r.threads.length > 6) threads.push(`${r.threads.length - 6} more ${s2(rest.user)}/${s2(rest.system)}`);
  const moved = HARD_WAY.some((k) => r.vm[k]! > 0);
  const vm = VM_COUNTERS.filter((k) => r.vm[k]! !== 0).map((k) => `${k} +${r.vm[k]}`);
  const mem = MEMINFO.map((k) => `${k} ${mb(r.memBefore[k]!)}→${mb(r.memAfter[k]!)}`).join(', ');
  const psi = Object.entries(r.psi)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`);
  return [
    `    ${s2(r.seconds)} s, load ${r.load.toFixed(1)}; machine busy ${s2(r.machine.busy)} CPU-s (steal ${s2(r.machine.steal)}, iowait ${s2(r.machine.iowait)})`,
    `    threads user/system s: ${threads.join(', ') || 'none ran'}`,
    `    vmstat: ${moved ? '' : 'no reclaim or compaction; '}${vm.join(' ')}`,
    `    MB: ${mem}; stall ms: ${psi.join(', ') || 'none'}`,
  ].join('\n');
}
