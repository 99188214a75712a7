/**
 * The settle before a mixed-load window: Dirty + Writeback read from /proc/meminfo's text, a wait
 * that ends on the bound (not on a clock), that syncs again while above it, and a cap that is
 * reported, never passed silently.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSettle, dirtyBytes, mixedSettle, settle, settleBeforeWindow, settleWith, type SettleSpec } from './settle.js';

const MiB = 1024 * 1024;
const MEMINFO =
  'MemTotal:       24684000 kB\nMemFree:         7619000 kB\nCached:         12491000 kB\nDirty:            803000 kB\nWriteback:         12000 kB\n';

test('Dirty + Writeback are read in bytes from meminfo, and a missing line is an error', () => {
  assert.equal(dirtyBytes(MEMINFO), (803000 + 12000) * 1024);
  assert.throws(() => dirtyBytes('MemTotal: 1 kB\nDirty: 5 kB\n'), /no Writeback line/);
});

/** A fake clock that moves only when the settle sleeps or flushes. */
function fakes(dirtyAfterFlush: number[]) {
  let t = 0;
  let flushes = 0;
  return {
    dirty: () => dirtyAfterFlush[Math.min(flushes, dirtyAfterFlush.length - 1)]!,
    flush: async () => {
      flushes++;
      t += 5;
    },
    sleep: async (ms: number) => void (t += ms),
    now: () => t,
    flushes: () => flushes,
  };
}

const spec: SettleSpec = { boundBytes: 64 * MiB, capMs: 1000, pollMs: 100 };

test('the settle ends as soon as Dirty + Writeback fall below the bound, syncing again while above', async () => {
  const f = fakes([900 * MiB, 300 * MiB, 100 * MiB, 10 * MiB]);
  const s = await settleWith(spec, f.dirty, f.flush, f.sleep, f.now);
  assert.equal(s.capped, false);
  assert.equal(s.before, 900 * MiB);
  assert.equal(s.after, 10 * MiB);
  assert.equal(f.flushes(), 3, 'one sync, then one after each of the two pauses');
  assert.equal(s.syncMs, 5);
  assert.equal(s.ms, 3 * 5 + 2 * 100);
  assert.match(describeSettle(s, spec), /^settle: Dirty\+Writeback 900 MB, sync 0\.01 s, 0\.21 s in all → Dirty\+Writeback 10 MB \(bound 64 MB\)$/);
});

test('a machine that never settles is capped, and the line says the window opens unsettled', async () => {
  const f = fakes([500 * MiB]);
  const s = await settleWith(spec, f.dirty, f.flush, f.sleep, f.now);
  assert.equal(s.capped, true);
  assert.ok(s.ms >= spec.capMs && s.ms < spec.capMs + spec.pollMs + 10, `stopped at the cap: ${s.ms} ms`);
  assert.equal(s.after, 500 * MiB);
  assert.match(describeSettle(s, spec), /CAPPED at 1 s: Dirty\+Writeback still 500 MB \(bound 64 MB\), the window opens unsettled/);
});

test('an already settled machine costs one sync and no wait', async () => {
  const f = fakes([1 * MiB]);
  const s = await settleWith(spec, f.dirty, f.flush, f.sleep, f.now);
  assert.deepEqual([s.capped, f.flushes(), s.ms], [false, 1, 5]);
});

test('the real settle syncs a directory and reads this machine', async () => {
  // A bound no machine is above: the real sync and meminfo, not the wait, are what is checked.
  const s = await settle([process.cwd()], { boundBytes: Number.MAX_SAFE_INTEGER, capMs: 60_000, pollMs: 100 });
  assert.equal(s.capped, false);
  assert.ok(s.before >= 0 && s.syncMs >= 0, JSON.stringify(s));
});

test('BENCH_MIXED_SETTLE: each by default, part or off when asked, anything else refused', () => {
  assert.equal(mixedSettle(undefined), 'each');
  assert.equal(mixedSettle(''), 'each');
  assert.equal(mixedSettle('part'), 'part');
  assert.equal(mixedSettle('off'), 'off');
  assert.throws(() => mixedSettle('0'), /BENCH_MIXED_SETTLE: "0" is not each, part or off/);
});

test('the settle before a window: every window with each, the first only with part, none with off', async () => {
  const dirs = [process.cwd(), '/no/such/dir/yet'];
  assert.equal(await settleBeforeWindow('off', true, dirs), undefined);
  assert.equal(await settleBeforeWindow('part', false, dirs), undefined);
  // A directory not made yet is left out rather than failing the sync.
  for (const [when, first] of [
    ['part', true],
    ['each', false],
  ] as const)
    assert.match((await settleBeforeWindow(when, first, dirs)) ?? '', /^settle: Dirty\+Writeback \d+ MB, sync /);
});
