/**
 * The load generator (autocannon) in a process of its own, so the bench process's event loop is
 * not part of the measurement: `startManifestLoad()` spawns this file, which reads its settings from
 * the environment (a login token in argv would show in the process list) and prints the result.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface LoadSpec {
  url: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
}

export interface LoadResult {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Requests that failed or answered other than 2xx. */
  errors: number;
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  '2xx': number;
}

/** Starts the load generator's process, loaded and waiting; `go()` starts the load and gives its result. */
export function startManifestLoad(spec: LoadSpec): { go(): Promise<LoadResult> } {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_LOAD: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    async go() {
      child.stdin!.end('go\n');
      const code = await exited;
      if (code !== 0) throw new Error(`load generator exited with ${code}`);
      return JSON.parse(out) as LoadResult;
    },
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_LOAD!) as LoadSpec;
  const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<AutocannonResult>;
  // Loaded and ready; the load starts when the parent says so (or closes stdin).
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
  const r = await autocannon({ url: spec.url, connections: spec.connections, duration: spec.seconds, headers: spec.headers });
  const out: LoadResult = {
    perSecond: r['2xx'] / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    errors: r.errors + r.timeouts + r.non2xx,
  };
  process.stdout.write(JSON.stringify(out));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
