/**
 * The audit bench charges each thread kind for its own time: a process whose worker thread spins
 * while its event loop idles shows the time on the worker threads, not the event loop.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { threadCpuSeconds, threadStats } from './thread-cpu.js';

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

// Two spinners on one core: the event loop and a worker thread take turns, so each is switched
// away while still runnable and waits for the core.
const RIVALS = `
const { Worker } = require('node:worker_threads');
const w = new Worker('for (;;) {}', { eval: true });
w.on('online', () => { process.stdout.write('ready\\n'); for (;;) {} });
`;

test('the event loop preempted by a rival on its core is counted as preempted and waiting', async () => {
  const child = spawn('taskset', ['-c', '0', process.execPath, '-e', RIVALS], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until(() => out.includes('ready'));
    const start = threadStats(child.pid!)['event loop'];
    // Until the loop has waited 0.1 s for its core (each timeslice the worker holds is a wait),
    // or has run 2 s, which it cannot do sharing a core with a spinner without waiting.
    await until(() => {
      const now = threadStats(child.pid!)['event loop'];
      return now.waited - start.waited >= 0.1 || now.cpu - start.cpu >= 2;
    });
    const end = threadStats(child.pid!)['event loop'];
    assert.ok(end.waited - start.waited >= 0.1, `the loop waited ${(end.waited - start.waited).toFixed(3)} s for its core`);
    assert.ok(end.preempted - start.preempted >= 1, `the loop was preempted ${end.preempted - start.preempted} times`);
    assert.ok(end.cpu - start.cpu > 0, 'the loop ran meanwhile');
  } finally {
    child.kill('SIGKILL');
  }
});
