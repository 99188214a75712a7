/**
 * The scale part's arithmetic: how often a listing is walked (enough pages that a p99 is not the
 * slowest page), what a walk's pages sum up to, and the slowest page's line with the server's own
 * time beside the client's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PageWaits } from './loop-stalls.js';
import { p99Rank, pageStats, slowestLine, tailLine, type PageTime } from './page-stats.js';
import { walkedEnough } from './scale.js';

const FULL = { passes: 2, pages: 1000, seconds: 30 };

/** How many walks the plan takes for a listing of `perWalk` pages of `pageSeconds` each. */
function walksFor(plan: typeof FULL, perWalk: number, pageSeconds = 0.01): number {
  let walks = 0;
  while (!walkedEnough(plan, walks, walks * perWalk, walks * perWalk * pageSeconds)) walks++;
  return walks;
}

test('a listing is walked until it has given 1,000 pages, at least twice, and no walk starts after 30 s', () => {
  assert.equal(walksFor(FULL, 10), 100); // 10,000 tags, 1,000 a page
  assert.equal(walksFor(FULL, 100), 10); // 100,000 tags
  assert.equal(walksFor(FULL, 100, 0.05), 6); // 100,000 tags at 50 ms a page: the 30 s stop first
  assert.equal(walksFor(FULL, 2), 500); // 1,000 repositories and the tag repository
  assert.equal(walksFor(FULL, 11), 91); // 10,000 repositories and the tag repository: 1,001 pages
  assert.equal(walksFor(FULL, 1), 1000);
  assert.equal(walksFor({ passes: 1, pages: 0, seconds: 0 }, 3), 1); // a quick run
  assert.equal(walksFor(FULL, 1, 2), 15); // the reference's whole tag list at 100,000 tags, 2 s each
  assert.equal(walksFor(FULL, 11, 0.5), 6); // the reference's catalog at 10,000 repositories
  assert.equal(walksFor(FULL, 100, 1), 2); // however slow, two walks
});

test('with 100 pages the p99 is the second slowest, and the slowest stays beside it', () => {
  const walks: PageTime[][] = Array.from({ length: 10 }, (_, w) => Array.from({ length: 10 }, (_, p) => ({ ms: 10 + w * 10 + p, serverMs: 5 })));
  walks[3]![7] = { ms: 300, serverMs: 4.5 };
  walks[8]![0] = { ms: 90, serverMs: 80 };
  const s = pageStats(walks);
  assert.equal(s.pages, 10);
  assert.equal(s.passes, 10);
  assert.equal(s.maxMs, 300);
  assert.equal(s.p99Ms, 109); // the slowest of the rest (walk 10's last page), not the 300 ms one
  assert.deepEqual(s.slowest, { pass: 4, page: 8, serverMs: 4.5 });
  assert.deepEqual(s.server, { p50Ms: 5, p99Ms: 5, maxMs: 80, missing: 0 });
  walks[0]![0] = { ms: 11, serverMs: 5, serverCpuMs: 4 };
  assert.equal(pageStats(walks).server?.cpuP99Ms, 4);
  // Twenty pages, as two walks at 10,000 tags were: the p99 is the slowest.
  assert.equal(pageStats(walks.slice(2, 4)).p99Ms, 300);
});

test("the slowest page's line says the server's time beside the client's, or that it has none", () => {
  const timed = pageStats([
    [
      { ms: 83.6, serverMs: 12.25 },
      { ms: 18.5, serverMs: 11 },
    ],
    [{ ms: 20, serverMs: 10 }],
  ]);
  assert.equal(slowestLine(timed), 'server 12.3 ms, client 83.6 ms; server p50 11.0, p99 12.3, max 12.3 ms');
  const someUntimed = pageStats([[{ ms: 83.6 }, { ms: 18.5, serverMs: 11 }]]);
  assert.equal(slowestLine(someUntimed), 'server ?, client 83.6 ms; server p50 11.0, p99 11.0, max 11.0 ms, 1 pages without a time');
  assert.equal(slowestLine(pageStats([[{ ms: 46.9 }, { ms: 3 }]])), 'server n/a, client 46.9 ms');
  // The bench's own collection inside the page is the client's share, said beside it (none: nothing said).
  assert.equal(
    slowestLine(
      pageStats([
        [
          { ms: 46.9, benchGcMs: 13.4 },
          { ms: 3, benchGcMs: 0 },
        ],
      ]),
    ),
    "server n/a, client 46.9 ms (the bench's own GC 13.4)",
  );
  assert.equal(slowestLine(pageStats([[{ ms: 46.9, benchGcMs: 0 }]])), 'server n/a, client 46.9 ms');
});

test("the p99's rank says how many pages it is read from: with 1,000 the 11th slowest", () => {
  assert.equal(p99Rank(20), 'the slowest of 20 pages');
  assert.equal(p99Rank(100), 'the 2nd slowest of 100 pages');
  assert.equal(p99Rank(110), 'the 2nd slowest of 110 pages');
  assert.equal(p99Rank(1000), 'the 11th slowest of 1000 pages');
  assert.equal(p99Rank(2100), 'the 22nd slowest of 2100 pages');
  assert.equal(pageStats([Array.from({ length: 1000 }, (_, i) => ({ ms: i + 1 }))]).p99Ms, 990);
});

test('the pages at and above the p99 are summed by where their time went', () => {
  const waits = (before: number): PageWaits => ({
    beforeMs: before,
    inServerMs: 2,
    afterMs: 1,
    serverStallMs: before - 1,
    serverStallCpuMs: 0.5,
    serverStallOtherCpuMs: 2,
    serverGcMs: 0,
    benchStallMs: 0,
    benchStallCpuMs: 0,
  });
  const pages: PageTime[] = Array.from({ length: 100 }, (_, i) => ({ ms: 3 + i / 100, waits: waits(0) }));
  pages[10] = { ms: 90, waits: waits(87), benchGcMs: 0 };
  pages[20] = { ms: 50, waits: waits(47), benchGcMs: 1 };
  const s = pageStats([pages]);
  assert.equal(s.tail?.pages, 2);
  assert.equal(s.tail?.clientMs, 140);
  assert.equal(s.tail?.beforeMs, 134);
  assert.equal(
    tailLine(s.tail!),
    "the 2 pages at and above the p99: client 140 ms, 134.0 ms before the server took it, 4.0 in it, 2.0 after; the server's loop stalled 132.0 ms outside it (1.0 on its CPU, its other threads ran 4.0), its GC 0.0; the bench's loop stalled 0.0 (0.0 on its CPU), its GC 1",
  );
  // Pages without a split (the reference's) have no tail.
  assert.equal(pageStats([[{ ms: 3 }, { ms: 90 }]]).tail, undefined);
});
