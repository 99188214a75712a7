/**
 * The bench charges a server for the work of its child processes: a parent that hands its work to
 * a child must show that child's CPU time and memory, while the child runs and after it is reaped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { test } from 'node:test';
import { cpuSeconds, descendants, rssBytes } from './proc-stats.js';

const ownCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const ownRss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

// Idles, after starting a child that spins; on SIGUSR2 kills the child, waits for it, says so.
const PARENT = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
process.stdout.write(child.pid + '\\n');
process.on('SIGUSR2', () => { child.once('exit', () => process.stdout.write('reaped\\n')); child.kill('SIGKILL'); });
setInterval(() => {}, 1000);
`;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

test('a server is charged for the CPU and memory of its child processes, live and reaped', async () => {
  const parent = spawn(process.execPath, ['-e', PARENT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let childPid = 0;
  parent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until(() => out.includes('\n'));
    childPid = Number(out.split('\n')[0]);
    await until(() => ownCpu(childPid) >= 0.5);

    const childCpu = ownCpu(childPid);
    assert.ok(cpuSeconds(parent.pid!) >= ownCpu(parent.pid!) + childCpu, 'a live child counts');
    assert.ok(rssBytes(parent.pid!) > ownRss(parent.pid!), "the child's memory counts");
    assert.deepEqual(descendants(parent.pid!), [childPid]);

    parent.kill('SIGUSR2');
    await until(() => out.includes('reaped'));
    assert.deepEqual(descendants(parent.pid!), []);
    assert.ok(cpuSeconds(parent.pid!) >= ownCpu(parent.pid!) + childCpu, 'a reaped child still counts (cutime + cstime)');
  } finally {
    if (childPid && descendants(parent.pid!).includes(childPid)) process.kill(childPid, 'SIGKILL');
    parent.kill('SIGKILL');
    await once(parent, 'exit');
  }
});
