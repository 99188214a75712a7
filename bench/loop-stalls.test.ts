/**
 * A page's split (loop-stalls.ts): where the client's time went, the server's loop stalls counted
 * only outside the page's own request, their CPU share pro rata; and the sampler noting a held loop.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hrMs, pageWaits, type Stall, StallSampler, waitsText } from './loop-stalls.js';

test("a page's time splits at the server's request, and only the server's stalls outside it count", () => {
  const window = { sent: 1000, done: 1093 };
  const request = { start: 1080, finish: 1085 };
  const server = {
    // 70 ms held before the request (5 of it on the server's CPU), one inside it (its own work), one after the page.
    stalls: [
      { from: 1005, to: 1075, cpuMs: 5, otherCpuMs: 35 },
      { from: 1081, to: 1084, cpuMs: 3, otherCpuMs: 0 },
      { from: 1100, to: 1110, cpuMs: 10, otherCpuMs: 10 },
    ],
    gc: [
      { at: 1010, ms: 4 },
      { at: 1090, ms: 6 }, // half inside the window
      { at: 900, ms: 5 },
    ],
  };
  const w = pageWaits(window, request, server, { stalls: [{ from: 990, to: 1010, cpuMs: 20, otherCpuMs: 0 }] });
  assert.equal(w.beforeMs, 80);
  assert.equal(w.inServerMs, 5);
  assert.equal(w.afterMs, 8);
  assert.equal(w.serverStallMs, 70);
  assert.equal(w.serverStallCpuMs, 5);
  assert.equal(w.serverStallOtherCpuMs, 35);
  assert.equal(w.serverGcMs, 7);
  // The bench's stall counts only its 10 ms inside the window, and half its CPU.
  assert.equal(w.benchStallMs, 10);
  assert.equal(w.benchStallCpuMs, 10);
  assert.equal(
    waitsText(w),
    "80.0 ms before the server took it, 5.0 in it, 8.0 after; the server's loop stalled 70.0 ms outside it (5.0 on its CPU, its other threads ran 35.0), its GC 7.0; the bench's loop stalled 10.0 (10.0 on its CPU)",
  );
});

test("the pieces add up to the page's time when the server hears of its answer's end after the bench has it", () => {
  const w = pageWaits({ sent: 0, done: 100 }, { start: 5, finish: 160 }, { stalls: [], gc: [] }, { stalls: [] });
  assert.deepEqual([w.beforeMs, w.inServerMs, w.afterMs], [5, 95, 0]);
});

test('a stall spanning the request counts only its parts outside it', () => {
  const w = pageWaits({ sent: 0, done: 100 }, { start: 40, finish: 60 }, { stalls: [{ from: 30, to: 70, cpuMs: 40, otherCpuMs: 8 }], gc: [] }, { stalls: [] });
  assert.equal(w.serverStallMs, 20);
  assert.equal(w.serverStallCpuMs, 20);
  assert.equal(w.serverStallOtherCpuMs, 4);
});

test('the sampler notes a loop held past its turn, with the CPU the thread spent', async () => {
  const stalls: Stall[] = [];
  const sampler = new StallSampler((s) => stalls.push(s), 2, 3);
  sampler.start();
  await new Promise((r) => setTimeout(r, 5));
  const t = hrMs();
  while (hrMs() - t < 40); // the loop held, on this thread's CPU
  await new Promise((r) => setTimeout(r, 10));
  sampler.stop();
  const held = stalls.find((s) => s.to - s.from >= 30);
  assert.ok(held, `a stall of the 40 ms held: ${JSON.stringify(stalls)}`);
  assert.ok(held.cpuMs > 0 && held.cpuMs <= held.to - held.from);
});
