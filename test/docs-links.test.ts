/**
 * The README and docs/*.md render as written: every code fence is closed (one lone fence once
 * turned the README's last thousand lines into a single code block), and every link to a heading
 * or to a file of ours points at something that exists. Anchors are GitHub's: the heading in lower
 * case, punctuation dropped, spaces as hyphens, a repeated heading numbered -1, -2, ...
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const files = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Parsed {
  anchors: Set<string>;
  links: { line: number; target: string }[];
  openFence: number | undefined;
}

export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function parse(text: string): Parsed {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const links: Parsed['links'] = [];
  let openFence: number | undefined;
  text.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      openFence = openFence === undefined ? i + 1 : undefined;
      return;
    }
    if (openFence !== undefined) return;
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1] ?? '');
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    // Inline code is not a link: `[x](y)` inside backticks is an example, not a reference.
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) links.push({ line: i + 1, target: m[1] ?? '' });
  });
  return { anchors, links, openFence };
}

test('slugs follow GitHub: case, punctuation, spaces', () => {
  assert.equal(slug('Scaling out: PostgreSQL, S3 and several nodes'), 'scaling-out-postgresql-s3-and-several-nodes');
  assert.equal(slug("The curl upload's slow state"), 'the-curl-uploads-slow-state');
  assert.equal(slug('Where issue #14’s goals stand'), 'where-issue-14s-goals-stand');
});

test('a lone fence and a dead anchor are found', () => {
  const p = parse('# A\n\n[x](#a) [y](#b)\n```\ncode\n');
  assert.equal(p.openFence, 4);
  assert.deepEqual([...p.anchors], ['a']);
  assert.deepEqual(
    p.links.map((l) => l.target),
    ['#a', '#b'],
  );
});

const parsed = new Map(files.map((f) => [f, parse(readFileSync(join(root, f), 'utf8'))]));

for (const [file, p] of parsed) {
  test(`${file}: every code fence is closed`, () => {
    assert.equal(p.openFence, undefined, `${file}: the fence opened at line ${p.openFence} is never closed`);
  });

  test(`${file}: every link to a heading or a file of ours resolves`, () => {
    const dead: string[] = [];
    for (const { line, target } of p.links) {
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      const [path = '', anchor] = target.split('#');
      const to = path === '' ? file : join(dirname(file), path);
      if (!existsSync(join(root, to))) {
        dead.push(`${file}:${line} → ${target} (no file ${to})`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      const there = parsed.get(to);
      if (there && !there.anchors.has(decodeURIComponent(anchor))) dead.push(`${file}:${line} → ${target} (no heading)`);
    }
    assert.deepEqual(dead, []);
  });
}
