/**
 * A round's kernel view charges system time to the thread that spent it: a process whose worker
 * thread writes a file over and over (kernel time) while its main thread idles must show that
 * worker with more system than user time, and the page faults of a thread that touches new memory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe, roundStats, snapshot } from './round-stats.js';

// The worker rewrites the first MiB of a file (page-cache copies: system time) and, once, touches
// 32 MiB of new memory (page faults). Says "ready" once the worker runs.
const WRITER = `
const { Worker } = require('node:worker_threads');
const w = new Worker(\`
  const fs = require('node:fs');
  const fd = fs.openSync(process.argv[2], 'w');
  const buf = Buffer.alloc(1 << 20, 1);
  Buffer.alloc(32 << 20, 1);
  for (;;) fs.writeSync(fd, buf, 0, buf.length, 0);
\`, { eval: true, argv: [process.argv[1]] });
w.on('online', () => process.stdout.write('ready\\n'));
setInterval(() => {}, 1000);
`;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

test("a writing worker's system time and page faults are charged to that thread, not to the idle main thread", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'round-stats-'));
  // Snapshot before the worker starts, so its first touch of new memory falls inside the round.
  const child = spawn(process.execPath, ['-e', WRITER, join(dir, 'f')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until(() => child.pid !== undefined);
    const a = snapshot(child.pid!);
    await until(() => out.includes('ready'));
    let r = roundStats(a, snapshot(child.pid!));
    const worker = () => r.threads.find((t) => t.name.startsWith('WorkerThread:'));
    // Until the worker has run 0.5 s (stat counts 10 ms ticks), then ask where the time went.
    await until(() => {
      r = roundStats(a, snapshot(child.pid!));
      const w = worker();
      return w !== undefined && w.user + w.system >= 0.5;
    });
    const w = worker()!;
    const main = r.threads.find((t) => t.name.endsWith(':main'));
    assert.ok(w.system > w.user, `the writing worker: ${w.system.toFixed(2)} s system, ${w.user.toFixed(2)} s user`);
    assert.ok(w.faults >= 1000, `32 MiB of new memory touched by the worker: ${w.faults} faults`);
    assert.ok(!main || main.user + main.system < (w.user + w.system) / 3, `the idle main thread: ${JSON.stringify(main)}`);
    assert.match(describe(r), /WorkerThread:\d+ [\d.]+\/[\d.]+ \(wait [\d.]+, \d+ faults\)/);
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
