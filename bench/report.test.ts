/**
 * A baseline build run beside this one (BENCH_BASELINE_CLI): its figures fold into their own
 * column and each round pairs with this build's round of the same figure; without one, the table
 * is the two-server table it always was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASELINE, Results } from './report.js';
import type { Server } from './servers.js';

const named = (name: string) => ({ name }) as Server;

test('a baseline folds into its own column and pairs round by round', () => {
  const r = new Results();
  for (const [b, base, ref] of [
    [200, 100, 400],
    [300, 200, 400],
  ] as const) {
    r.record(named('berth'), 'pull MB/s (HTTP)', b);
    r.record(named(BASELINE), 'pull MB/s (HTTP)', base);
    r.record(named('reference'), 'pull MB/s (HTTP)', ref);
  }
  assert.equal(r.hasBaseline, true);
  const [row] = r.rows();
  assert.equal(row!.berth, 250);
  assert.equal(row!.base, 150);
  assert.equal(row!.reference, 400);
  assert.equal(row!.overBase, 250 / 150);
  assert.deepEqual(r.pairedWithBaseline('pull MB/s (HTTP)'), [2, 1.5]);
});

test('without a baseline the rows are berth against the reference only', () => {
  const r = new Results();
  r.record(named('berth'), 'pull MB/s (HTTP)', 200);
  r.record(named('reference'), 'pull MB/s (HTTP)', 400);
  assert.equal(r.hasBaseline, false);
  const [row] = r.rows();
  assert.equal(row!.ratio, 0.5);
  assert.ok(Number.isNaN(row!.base));
  assert.deepEqual(r.pairedWithBaseline('pull MB/s (HTTP)'), []);
});

test("the memory crowds' and skopeo's lines fold to the median, as the curl lines do; the rest to the mean", () => {
  const r = new Results();
  for (const v of [26, 106, 40]) {
    r.record(named('berth'), 'RSS KB per added upload, peak 50 → 200', v);
    r.record(named('berth'), 'seal slots resident MB, 200 uploads (as the first ends)', v);
    r.record(named('berth'), 'push MB/s (HTTP)', v);
    r.record(named('berth'), 'RSS MB per GiB uploaded while all 200 stream (least squares)', v);
    r.record(named('berth'), "streaming window: % of the 200 crowd's bytes sent while all stream", v);
    r.record(named('berth'), 'pull MB/s (skopeo)', v);
    r.record(named('berth'), "skopeo pull: skopeo's CPU-s per GiB", v);
  }
  const rows = new Map(r.rows().map((x) => [x.name, x.berth]));
  assert.equal(rows.get('RSS KB per added upload, peak 50 → 200'), 40);
  assert.equal(rows.get('seal slots resident MB, 200 uploads (as the first ends)'), 40);
  assert.equal(rows.get('push MB/s (HTTP)'), 172 / 3);
  assert.equal(rows.get('RSS MB per GiB uploaded while all 200 stream (least squares)'), 40);
  assert.equal(rows.get("streaming window: % of the 200 crowd's bytes sent while all stream"), 40);
  assert.equal(rows.get('pull MB/s (skopeo)'), 40);
  assert.equal(rows.get("skopeo pull: skopeo's CPU-s per GiB"), 40);
});
