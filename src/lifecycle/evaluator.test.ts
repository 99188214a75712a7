import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wildcardMatch } from '../core/repository-settings.js';
import { compileWildcard, evaluateLifecyclePolicy, type LifecycleAction, type LifecycleImage } from './evaluator.js';
import { parseLifecyclePolicy, type LifecyclePolicy, type LifecycleRule } from '../registry/lifecycle-policy-validation.js';

const DAY = 86_400_000;
const NOW = new Date('2024-06-01T00:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY);
const img = (digest: string, tags: string[], pushedDaysAgo: number, pulledDaysAgo?: number): LifecycleImage => ({
  digest,
  tags,
  pushedAt: daysAgo(pushedDaysAgo),
  ...(pulledDaysAgo !== undefined && { lastPulledAt: daysAgo(pulledDaysAgo) }),
});
/** Goes through the real validator, so every example is a policy ECR would accept. */
const policy = (...rules: unknown[]) => parseLifecyclePolicy(JSON.stringify({ rules }).padEnd(100, ' '));
const rule = (rulePriority: number, selection: object, action: object = { type: 'expire' }) => ({ rulePriority, selection, action });
const count = (n: number) => ({ countType: 'imageCountMoreThan', countNumber: n });
const since = (type: string, n: number) => ({ countType: type, countUnit: 'days', countNumber: n });
const expired = (...pairs: Array<[string, number]>): LifecycleAction[] => pairs.map(([digest, rulePriority]) => ({ digest, rulePriority, action: 'expire' }));
const run = (p: LifecyclePolicy, images: LifecycleImage[]) => evaluateLifecyclePolicy(p, images, NOW);

describe('evaluateLifecyclePolicy: ECR user guide examples', () => {
  it('multiple rules: a lower rule cannot expire what a higher rule selected (example 1)', () => {
    const p = policy(
      rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], ...count(1) }),
      rule(2, { tagStatus: 'tagged', tagPatternList: ['beta*'], ...count(1) }),
    );
    const images = [img('A', ['beta-1', 'prod-1'], 10), img('B', ['beta-2', 'prod-2'], 9), img('C', ['beta-3'], 8)];
    assert.deepEqual(run(p, images), expired(['A', 1]));
  });

  it('multiple rules: protected images still take places in a lower count (example 2)', () => {
    const p = policy(
      rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], ...count(1) }),
      rule(2, { tagStatus: 'tagged', tagPatternList: ['beta*'], ...count(1) }),
    );
    const images = [img('A', ['beta-1', 'prod-1'], 10), img('B', ['beta-2', 'prod-2'], 9), img('C', ['beta-3', 'prod-3'], 8), img('D', ['beta-4'], 5)];
    assert.deepEqual(run(p, images), expired(['A', 1], ['B', 1]));
  });

  it('protects prod* with imageCountMoreThan 9999 ahead of a catch-all any rule', () => {
    const p = policy(rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], ...count(9999) }), rule(2, { tagStatus: 'any', ...count(1) }));
    // The newest image is prod: it fills the any rule's single place, so every other
    // non-prod image goes, while the older prod image is never touched.
    const images = [img('u', [], 5), img('x', ['v1'], 4), img('p1', ['prod-1'], 3), img('y', ['v2'], 2), img('p2', ['prod-2'], 1)];
    assert.deepEqual(run(p, images), expired(['u', 2], ['x', 2], ['y', 2]));
  });

  it('untagged sinceImagePushed 14 expires strictly older untagged images only', () => {
    const p = policy(rule(1, { tagStatus: 'untagged', ...since('sinceImagePushed', 14) }));
    const images = [img('old', [], 15), img('exact', [], 14), img('young', [], 13), img('tagged', ['v1'], 30)];
    assert.deepEqual(run(p, images), expired(['old', 1]));
  });

  it('keeps only one untagged image', () => {
    const p = policy(rule(1, { tagStatus: 'untagged', ...count(1) }));
    assert.deepEqual(run(p, [img('a', [], 3), img('b', [], 2), img('c', [], 1), img('t', ['x'], 9)]), expired(['a', 1], ['b', 1]));
  });

  it('several prefixes are ANDed, each matching any one of the tags', () => {
    const p = policy(rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'], ...count(1) }));
    const images = [img('A', ['alpha-1', 'beta-1'], 10), img('B', ['alpha-2', 'beta-2'], 9), img('C', ['alpha-3', 'beta-3'], 8), img('D', ['alpha-4'], 5)];
    assert.deepEqual(run(p, images), expired(['A', 1], ['B', 1]));
  });

  it('several patterns are ANDed, with an age criterion', () => {
    const p = policy(rule(1, { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], ...since('sinceImagePushed', 5) }));
    const images = [img('A', ['alpha-1'], 12), img('B', ['beta-1'], 11), img('C', ['alpha-2', 'beta-2'], 10), img('D', ['alpha-3', 'beta-3'], 4)];
    assert.deepEqual(run(p, images), expired(['C', 1]));
  });

  it('counts a multi-tag image once', () => {
    const p = policy(rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], ...count(2) }));
    const images = [img('P', ['v6'], 4), img('O', ['v5'], 3), img('N', ['v4'], 2), img('M', ['v1', 'v2', 'v3'], 1)];
    assert.deepEqual(run(p, images), expired(['P', 1], ['O', 1]));
  });
});

describe('evaluateLifecyclePolicy: Berth specifics', () => {
  it('sinceImagePulled uses the push time for never-pulled images', () => {
    const p = policy(rule(1, { tagStatus: 'any', ...since('sinceImagePulled', 7) }, { type: 'transition', targetStorageClass: 'archive' }));
    const images = [img('never', ['a'], 8), img('recent', ['b'], 30, 2), img('stale', ['c'], 30, 10), img('new', ['d'], 1)];
    const actions: LifecycleAction[] = [
      { digest: 'stale', rulePriority: 1, action: 'transition', targetStorageClass: 'archive' },
      { digest: 'never', rulePriority: 1, action: 'transition', targetStorageClass: 'archive' },
    ];
    assert.deepEqual(run(p, images), actions);
  });

  it('archive-class rules select archived images only, by time since the transition', () => {
    const p = policy(
      rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], storageClass: 'archive', ...since('sinceImageTransitioned', 90) }),
      rule(2, { tagStatus: 'tagged', tagPatternList: ['v*'], ...since('sinceImagePushed', 1) }),
    );
    const archived = (digest: string, archivedDaysAgo: number): LifecycleImage => ({
      ...img(digest, ['v1'], 300),
      storageClass: 'archive',
      archivedAt: daysAgo(archivedDaysAgo),
    });
    // A standard image is outside rule 1 (not protected by it); an archived one outside rule 2.
    assert.deepEqual(run(p, [img('old', ['v1'], 200), archived('long', 91), archived('recent', 89)]), expired(['long', 1], ['old', 2]));
  });

  it('standard rules transition; sinceImagePulled counts from a restore not pulled since', () => {
    const p = policy(rule(1, { tagStatus: 'any', ...since('sinceImagePulled', 30) }, { type: 'transition', targetStorageClass: 'archive' }));
    const restored: LifecycleImage = { ...img('restored', [], 100, 60), activatedAt: daysAgo(5) };
    assert.deepEqual(run(p, [restored, img('stale', [], 100, 60)]), [
      { digest: 'stale', rulePriority: 1, action: 'transition', targetStorageClass: 'archive' },
    ]);
  });

  it('orders by push time then digest, and sorts hand-built rules by priority', () => {
    const mk = (rulePriority: number, tagStatus: 'tagged' | 'any', n: number): LifecycleRule => ({
      rulePriority,
      selection: {
        tagStatus,
        ...(tagStatus === 'tagged' && { tagPrefixList: ['keep'] }),
        storageClass: 'standard',
        countType: 'imageCountMoreThan',
        countNumber: n,
      },
      action: { type: 'expire' },
    });
    const p: LifecyclePolicy = { rules: [mk(5, 'any', 1), mk(2, 'tagged', 100)] };
    const images = [img('d', [], 1), img('c', [], 2), img('b', [], 2), img('k', ['keep'], 0), img('a', [], 2)];
    assert.deepEqual(run(p, images), expired(['a', 5], ['b', 5], ['c', 5], ['d', 5]));
  });

  it('handles empty input and rejects duplicate digests', () => {
    assert.deepEqual(run(policy(rule(1, { tagStatus: 'any', ...count(1) })), []), []);
    assert.throws(() => run(policy(rule(1, { tagStatus: 'any', ...count(1) })), [img('x', ['a'], 1), img('x', ['b'], 2)]), /duplicate image digest x/);
  });
});

/** mulberry32: tiny, seedable, good enough to drive case generation reproducibly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The doc's rules transcribed literally, at O(n^2 * rules^2): a rule marks an image by
 * counting strictly newer selected images or by its age; the image is acted on by the first
 * rule that marks it, unless some earlier rule's selection contains it.
 */
function reference(p: LifecyclePolicy, images: readonly LifecycleImage[], now: Date): LifecycleAction[] {
  const selects = (r: LifecycleRule, im: LifecycleImage): boolean => {
    const s = r.selection;
    if ((s.storageClass === 'archive') !== (im.storageClass === 'archive')) return false;
    if (s.tagStatus === 'any') return true;
    if (s.tagStatus === 'untagged') return im.tags.length === 0;
    const prefixesOk = (s.tagPrefixList ?? []).every((pre) => im.tags.some((t) => t.startsWith(pre)));
    const patternsOk = (s.tagPatternList ?? []).every((pat) => im.tags.some((t) => wildcardMatch(pat, t)));
    return im.tags.length > 0 && prefixesOk && patternsOk;
  };
  const newer = (a: LifecycleImage, b: LifecycleImage) =>
    a.pushedAt.getTime() > b.pushedAt.getTime() || (a.pushedAt.getTime() === b.pushedAt.getTime() && a.digest > b.digest);
  const marks = (r: LifecycleRule, im: LifecycleImage): boolean => {
    if (!selects(r, im)) return false;
    const n = r.selection.countNumber;
    if (r.selection.countType === 'imageCountMoreThan') return images.filter((o) => selects(r, o) && newer(o, im)).length >= n;
    const pulled = Math.max((im.lastPulledAt ?? im.pushedAt).getTime(), im.activatedAt?.getTime() ?? 0);
    const type = r.selection.countType;
    const t = type === 'sinceImagePulled' ? pulled : type === 'sinceImageTransitioned' ? (im.archivedAt ?? im.pushedAt).getTime() : im.pushedAt.getTime();
    return now.getTime() - t > n * DAY;
  };
  const out: LifecycleAction[] = [];
  for (const im of images) {
    for (const [i, r] of p.rules.entries()) {
      if (!marks(r, im) || p.rules.slice(0, i).some((q) => selects(q, im))) continue;
      out.push({
        digest: im.digest,
        rulePriority: r.rulePriority,
        action: r.action.type,
        ...(r.action.type === 'transition' && { targetStorageClass: 'archive' as const }),
      });
      break;
    }
  }
  const byDigest = new Map(images.map((im) => [im.digest, im]));
  return out.sort((x, y) => (newer(byDigest.get(x.digest)!, byDigest.get(y.digest)!) ? 1 : -1));
}

const TAGS = ['v1', 'v2', 'v10', 'prod', 'prod-a', 'prodx', 'latest', 'release-1', 'a'];
const PREFIXES = ['v', 'v1', 'prod', 'prod-', 'release', 'lat', 'p', 'a', 'x'];
const PATTERNS = ['prod*', '*-1', 'v*', '*', 'prod-*', '*a*', 'p*d*', 'release-*', 'latest', '*x', 'v1*', '*o*-*', 'v?', 'a'];

function generateCase(rand: () => number) {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const some = <T>(xs: readonly T[], max: number): T[] => [...new Set(Array.from({ length: int(1, max) }, () => pick(xs)))];

  const nRules = int(1, 4);
  const priorities = new Set<number>();
  while (priorities.size < nRules) priorities.add(int(1, 20));
  const sorted = [...priorities].sort((a, b) => a - b);
  const usedPrefixes = new Set<string>();
  let untaggedUsed = false;
  const rules = sorted.map((rulePriority, i) => {
    let selection: Record<string, unknown>;
    const roll = rand();
    if (i === nRules - 1 && roll < 0.25) selection = { tagStatus: 'any' };
    else if (!untaggedUsed && roll < 0.45) {
      untaggedUsed = true;
      selection = { tagStatus: 'untagged' };
    } else {
      const free = PREFIXES.filter((x) => !usedPrefixes.has(x));
      if (free.length > 0 && rand() < 0.5) {
        const prefixes = some(free, 2);
        for (const x of prefixes) usedPrefixes.add(x);
        selection = { tagStatus: 'tagged', tagPrefixList: prefixes };
      } else selection = { tagStatus: 'tagged', tagPatternList: some(PATTERNS, 3) };
    }
    const kind = rand();
    let action: object = rand() < 0.75 ? { type: 'expire' } : { type: 'transition', targetStorageClass: 'archive' };
    if (kind < 0.4) Object.assign(selection, count(int(1, 5)));
    else if (kind < 0.65) Object.assign(selection, since('sinceImagePushed', int(1, 30)));
    else if (kind < 0.9) Object.assign(selection, since('sinceImagePulled', int(1, 30)));
    else {
      Object.assign(selection, { storageClass: 'archive' }, since('sinceImageTransitioned', int(90, 120)));
      action = { type: 'expire' };
    }
    return rule(rulePriority, selection, action);
  });
  // Shuffled so the validator's sort is exercised too.
  for (let i = rules.length - 1; i > 0; i--) {
    const j = int(0, i);
    [rules[i], rules[j]] = [rules[j]!, rules[i]!];
  }
  const p = policy(...rules);

  const now = new Date(Date.UTC(2024, 0, 1) + int(0, 365) * DAY);
  // Hour granularity with a bias to whole days makes push-time ties and exact N-day ages common.
  const hoursAgo = () => (rand() < 0.3 ? int(0, 40) * 24 : int(0, 40 * 24));
  const images: LifecycleImage[] = Array.from({ length: int(0, 40) }, (_, i) => {
    const pushedH = hoursAgo();
    const im: LifecycleImage = {
      digest: `sha256:${int(0, 0xffff).toString(16)}-${i}`,
      tags: rand() < 0.3 ? [] : some(TAGS, 3),
      pushedAt: new Date(now.getTime() - pushedH * 3_600_000),
    };
    if (rand() < 0.6) im.lastPulledAt = new Date(now.getTime() - int(0, pushedH) * 3_600_000);
    if (rand() < 0.2) im.activatedAt = new Date(now.getTime() - int(0, pushedH) * 3_600_000);
    if (rand() < 0.3) {
      im.storageClass = 'archive';
      im.archivedAt = new Date(now.getTime() - int(0, 200) * DAY);
    }
    return im;
  });
  return { policy: p, images, now };
}

describe('evaluateLifecyclePolicy: properties', () => {
  it('agrees with the reference implementation on 3000 random repositories and policies', () => {
    const base = Number(process.env.BERTH_LIFECYCLE_SEED ?? 20240601);
    for (let i = 0; i < 3000; i++) {
      const seed = (base + i) >>> 0;
      const c = generateCase(mulberry32(seed));
      const actual = evaluateLifecyclePolicy(c.policy, c.images, c.now);
      const expected = reference(c.policy, c.images, c.now);
      assert.deepEqual(actual, expected, `case ${i} (seed ${seed}; rerun with BERTH_LIFECYCLE_SEED=${seed}): ${JSON.stringify(c)}`);
    }
  });

  it('compiled wildcards agree with wildcardMatch', () => {
    const rand = mulberry32(7);
    const word = (alphabet: string, max: number) =>
      Array.from({ length: Math.floor(rand() * (max + 1)) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    for (let i = 0; i < 20000; i++) {
      const pattern = word('ab*', 6);
      const value = word('ab', 7);
      assert.equal(compileWildcard(pattern)(value), wildcardMatch(pattern, value), `pattern ${JSON.stringify(pattern)} value ${JSON.stringify(value)}`);
    }
  });

  it('evaluates 100,000 images against a 3-rule policy', (t) => {
    const n = 100_000;
    const minute = 60_000;
    const rand = mulberry32(42);
    // Image i is pushed (n - i) minutes ago; i % 10 == 0 is prod, 1..3 untagged, the rest v.
    const images: LifecycleImage[] = Array.from({ length: n }, (_, i) => ({
      digest: `sha256:${i.toString(16).padStart(64, '0')}`,
      tags: i % 10 === 0 ? [`prod-${i}`] : i % 10 <= 3 ? [] : [`v${i}`, `build-${i}`],
      pushedAt: new Date(NOW.getTime() - (n - i) * minute),
    }));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [images[i], images[j]] = [images[j]!, images[i]!];
    }
    const p = policy(
      rule(1, { tagStatus: 'tagged', tagPatternList: ['prod-*'], ...count(9999) }),
      rule(2, { tagStatus: 'untagged', ...since('sinceImagePushed', 14) }),
      rule(3, { tagStatus: 'any', ...count(1000) }),
    );
    const started = performance.now();
    const actions = evaluateLifecyclePolicy(p, images, NOW);
    t.diagnostic(`100k images evaluated in ${(performance.now() - started).toFixed(0)} ms`);
    const perRule = (r: number) => actions.filter((a) => a.rulePriority === r).length;
    // Rule 1: 10,000 prod images, the oldest (i = 0) goes. Rule 2: untagged i < n - 14 days
    // of minutes = 79,840, three in ten. Rule 3: the newest 1,000 of all images stay, the
    // six-in-ten v images below i = 99,000 go.
    assert.equal(perRule(1), 1);
    assert.equal(perRule(2), (79_840 / 10) * 3);
    assert.equal(perRule(3), (99_000 / 10) * 6);
    assert.equal(actions.length, 1 + 23_952 + 59_400);
    assert.equal(actions[0]!.digest, `sha256:${'0'.padStart(64, '0')}`);
    for (let k = 1; k < actions.length; k++) assert.ok(actions[k - 1]!.digest < actions[k]!.digest, 'oldest first');
  });
});
