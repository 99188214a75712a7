/**
 * The audit bench charges each thread kind for its own time: a process whose worker thread spins
 * while its event loop idles shows the time on the worker threads, not the event loop.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { threadCpuSeconds } from './thread-cpu.js';

// The event loop idles on a timer; one worker thread spins. Says "ready" once the worker runs.
const SPINNER = `
const { Worker } = require('node:worker_threads');
const w = new Worker('for (;;) {}', { eval: true });
w.on('online', () => process.stdout.write('ready\\n'));
setInterval(() => {}, 1000);
`;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

test("a worker thread's CPU time is counted on the worker threads, not on the event loop", async () => {
  const child = spawn(process.execPath, ['-e', SPINNER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until(() => out.includes('ready'));
    const start = threadCpuSeconds(child.pid!);
    const total = (t: ReturnType<typeof threadCpuSeconds>) => Object.values(t).reduce((a, b) => a + b, 0);
    // Until the process as a whole has run 0.3 s more, then ask where that time was put.
    await until(() => total(threadCpuSeconds(child.pid!)) - total(start) >= 0.3);
    const end = threadCpuSeconds(child.pid!);
    const worker = end['worker threads'] - start['worker threads'];
    const loop = end['event loop'] - start['event loop'];
    assert.ok(worker >= 0.2, `the spinning worker was charged ${worker.toFixed(3)} s of ${(total(end) - total(start)).toFixed(3)} s`);
    assert.ok(loop < worker / 3, `the idle event loop used ${loop.toFixed(3)} s while the worker spun ${worker.toFixed(3)} s`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a process that is gone reads as no time at all', () => {
  const none = threadCpuSeconds(2 ** 22 + 1);
  assert.deepEqual(none, { 'event loop': 0, 'worker threads': 0, 'V8 helpers': 0, 'other threads': 0 });
});
