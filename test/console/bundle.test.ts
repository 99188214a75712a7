/**
 * The console as built (dist/console, by scripts/build-console.mjs, which scripts/test.sh runs
 * before the tests): within its size budget, and shaped for the server's strict CSP.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../e2e/helpers/berth-process.js';

const dist = join(repoRoot, 'dist', 'console');
/** Issue #20's budget for what a first visit downloads. */
const BUDGET_GZIP_BYTES = 300 * 1024;

test('index.html links hashed assets and carries no inline script or style', () => {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0]![1]!, /src="\/console\/assets\/main-[A-Za-z0-9_-]{8,}\.js"/);
  assert.equal(scripts[0]![2]!.trim(), '', 'no inline script');
  assert.doesNotMatch(html, /<style\b|\sstyle="/, 'no inline style');
  assert.match(html, /<link rel="stylesheet" href="\/console\/assets\/main-[A-Za-z0-9_-]{8,}\.css"/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from a CDN');
});

test(`the first page's assets are under ${BUDGET_GZIP_BYTES / 1024} KB gzipped`, () => {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const linked = [...html.matchAll(/(?:src|href)="\/console\/assets\/([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(linked.length >= 2, 'a script and a stylesheet');
  const present = new Set(readdirSync(join(dist, 'assets')));
  let total = 0;
  for (const name of linked) {
    assert.ok(present.has(name), `${name} exists`);
    total += gzipSync(readFileSync(join(dist, 'assets', name)), { level: 9 }).length;
  }
  // The script is one bundle: no chunk loaded later escapes the count.
  assert.deepEqual(
    [...present].filter((n) => n.endsWith('.js')),
    linked.filter((n) => n.endsWith('.js')),
  );
  assert.ok(total < BUDGET_GZIP_BYTES, `${total} bytes gzipped`);
});
