/**
 * A Berth server started through server-probe-main.ts, and what its logs say: each request's
 * window, its GC pauses and its loop's stalls (loop-stalls.ts). Any build's CLI can be probed: the
 * probe imports it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pause, ServerRequest, Stall } from './loop-stalls.js';

const probeMain = resolve(fileURLToPath(new URL('.', import.meta.url)), 'server-probe-main.js');

export interface ServerProbe {
  /** The entry to start instead of the CLI, and the environment that tells it where to log and what to run. */
  cli: string;
  env: Record<string, string>;
  prefix: string;
}

export function serverProbe(workDir: string, name: string, cli: string): ServerProbe {
  const prefix = join(workDir, `probe-${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  return { cli: probeMain, env: { BENCH_PROBE_LOG: prefix, BENCH_PROBE_CLI: cli }, prefix };
}

const lines = (path: string): number[][] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ').map(Number))
    : [];

/**
 * The requests the server took inside each window (the bench's pages, one at a time), with every
 * GC pause and stall logged so far; a window without one (the log not written within ~2 s: it is
 * written every 50 ms) gets none. The request log is read until it holds the last window's.
 */
export async function probeRead(
  p: ServerProbe,
  windows: Array<{ sent: number; done: number }>,
): Promise<{ requests: Array<ServerRequest | undefined>; gc: Pause[]; stalls: Stall[] }> {
  const last = windows.at(-1);
  let req: number[][] = [];
  for (let tries = 0; tries < 40; tries++) {
    req = lines(`${p.prefix}.requests`);
    if (!last || req.some(([start]) => start! >= last.sent && start! <= last.done)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // One more write's worth, for the stalls after the last page's answer.
  await new Promise((r) => setTimeout(r, 60));
  const requests = windows.map(({ sent, done }) => {
    const r = req.filter(([start]) => start! >= sent && start! <= done).at(-1);
    return r && { start: r[0]!, finish: r[1]! };
  });
  return {
    requests,
    gc: lines(`${p.prefix}.gc`).map(([at, ms]) => ({ at: at!, ms: ms! })),
    stalls: lines(`${p.prefix}.stalls`).map(([from, to, cpuMs, otherCpuMs]) => ({ from: from!, to: to!, cpuMs: cpuMs!, otherCpuMs: otherCpuMs ?? 0 })),
  };
}

export const probeFiles = (p: ServerProbe): string[] => ['requests', 'gc', 'stalls'].map((k) => `${p.prefix}.${k}`);
