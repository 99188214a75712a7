/**
 * Lifecycle policy evaluation: which images a policy would expire or transition right now.
 * Pure (no I/O, no clock of its own), so the scheduled run, the on-demand trigger and
 * StartLifecyclePolicyPreview all share it and it can be property-tested in isolation.
 */

import type { LifecyclePolicy, LifecycleRule } from '../registry/lifecycle-policy-validation.js';

export interface LifecycleImage {
  digest: string;
  tags: readonly string[];
  pushedAt: Date;
  lastPulledAt?: Date;
  /** The image's storage class: rules select images of their own class only. Default standard. */
  storageClass?: 'standard' | 'archive';
  /** When it was last archived (sinceImageTransitioned counts from it). */
  archivedAt?: Date;
  /** When it was last restored: sinceImagePulled counts from it when no pull came since. */
  activatedAt?: Date;
}

export interface LifecycleAction {
  digest: string;
  rulePriority: number;
  action: 'expire' | 'transition';
  targetStorageClass?: 'archive';
}

const DAY_MS = 86_400_000;

interface Entry {
  image: LifecycleImage;
  pushed: number;
  pulled: number;
  archived: number;
  archive: boolean;
  /** Matched the tag selection of an earlier rule: no later rule may act on it. */
  settled: boolean;
  action?: LifecycleAction;
}

type TagMatcher = (tags: readonly string[]) => boolean;
type Matcher = (e: Entry) => boolean;

/**
 * `*`-only globs compiled once per pattern into literal segments. A plain segment scan avoids
 * building a RegExp per image and has no backtracking blow-up: with only `*` wildcards,
 * taking the leftmost occurrence of each middle segment is always a valid choice.
 */
export function compileWildcard(pattern: string): (value: string) => boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return (value) => value === pattern;
  const head = parts[0] ?? '';
  const tail = parts[parts.length - 1] ?? '';
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  const fixed = head.length + tail.length;
  return (value) => {
    if (value.length < fixed || !value.startsWith(head) || !value.endsWith(tail)) return false;
    const end = value.length - tail.length;
    let at = head.length;
    for (const seg of middle) {
      const found = value.indexOf(seg, at);
      if (found < 0 || found + seg.length > end) return false;
      at = found + seg.length;
    }
    return true;
  };
}

/**
 * The rule's image selection: images of the rule's storage class (standard unless it says
 * archive) whose tags match. An image of the other class is outside the selection, so the
 * rule neither acts on it nor protects it.
 */
function compileSelection(rule: LifecycleRule): Matcher {
  const archive = rule.selection.storageClass === 'archive';
  const tags = compileTags(rule);
  return (e) => e.archive === archive && tags(e.image.tags);
}

function compileTags(rule: LifecycleRule): TagMatcher {
  const s = rule.selection;
  switch (s.tagStatus) {
    case 'any':
      return () => true;
    case 'untagged':
      return (tags) => tags.length === 0;
    case 'tagged': {
      // AND across list entries, ANY across the image's tags. Validation makes the two lists
      // exclusive; if a hand-built policy sets both, requiring both is the conservative reading.
      const checks: ((tag: string) => boolean)[] = [
        ...(s.tagPrefixList ?? []).map((p) => (tag: string) => tag.startsWith(p)),
        ...(s.tagPatternList ?? []).map(compileWildcard),
      ];
      return (tags) => tags.length > 0 && checks.every((check) => tags.some(check));
    }
  }
}

/** Oldest first; equal push times fall back to digest order so every run agrees. */
function oldestFirst(a: Entry, b: Entry): number {
  if (a.pushed !== b.pushed) return a.pushed - b.pushed;
  return a.image.digest < b.image.digest ? -1 : a.image.digest > b.image.digest ? 1 : 0;
}

function actionFor(rule: LifecycleRule, digest: string): LifecycleAction {
  const action: LifecycleAction = { digest, rulePriority: rule.rulePriority, action: rule.action.type };
  if (rule.action.type === 'transition') action.targetStorageClass = 'archive';
  return action;
}

/**
 * Applies `policy` to `images` as ECR would at instant `now` and returns the actions, oldest
 * image first. Each image is decided by the first rule (by priority) whose selection it
 * matches: that rule acts on it or it is kept, and later rules only count it.
 * Ties in push time rank the smaller digest as older. Throws on duplicate digests, since
 * counting is per image and a caller passing one row per tag would silently skew counts.
 */
export function evaluateLifecyclePolicy(policy: LifecyclePolicy, images: readonly LifecycleImage[], now: Date): LifecycleAction[] {
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('now is not a valid date');
  const seen = new Set<string>();
  const entries: Entry[] = images.map((image) => {
    if (seen.has(image.digest)) throw new RangeError(`duplicate image digest ${image.digest}`);
    seen.add(image.digest);
    const pushed = image.pushedAt.getTime();
    // ECR: the last pull, else the push; a restore not pulled since counts from the restore.
    const pulled = Math.max(image.lastPulledAt?.getTime() ?? pushed, image.activatedAt?.getTime() ?? Number.NEGATIVE_INFINITY);
    const archived = image.archivedAt?.getTime() ?? pushed;
    if (Number.isNaN(pushed) || Number.isNaN(pulled) || Number.isNaN(archived)) throw new RangeError(`image ${image.digest} has an invalid date`);
    return { image, pushed, pulled, archived, archive: image.storageClass === 'archive', settled: false };
  });
  // One sort serves every rule: count rules walk it backwards (newest first), and the result
  // comes out in it, keeping the whole evaluation O(n log n) plus O(n) per rule.
  entries.sort(oldestFirst);

  // Validated policies are already sorted; re-sorting a copy keeps hand-built ones correct.
  const rules = [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority);
  for (const rule of rules) {
    const matches = compileSelection(rule);
    const n = rule.selection.countNumber;
    if (rule.selection.countType === 'imageCountMoreThan') {
      // Settled images still take a place among the newest N: ECR counts them as if present.
      let rank = 0;
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i]!;
        if (!matches(e)) continue;
        rank++;
        if (e.settled) continue;
        e.settled = true;
        if (rank > n) e.action = actionFor(rule, e.image.digest);
      }
    } else {
      const cutoff = nowMs - n * DAY_MS;
      const type = rule.selection.countType;
      const since = (e: Entry) => (type === 'sinceImagePulled' ? e.pulled : type === 'sinceImageTransitioned' ? e.archived : e.pushed);
      for (const e of entries) {
        if (e.settled || !matches(e)) continue;
        e.settled = true;
        // "More than N days" is strict: an image exactly N days old is kept.
        if (since(e) < cutoff) e.action = actionFor(rule, e.image.digest);
      }
    }
  }
  const result: LifecycleAction[] = [];
  for (const e of entries) if (e.action) result.push(e.action);
  return result;
}
