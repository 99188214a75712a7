/**
 * The tag condition keys, the same for every service that tags: `aws:RequestTag/<key>` and
 * `aws:TagKeys` from the tags a request sets (or, for an untagging request, the keys it removes),
 * and `aws:ResourceTag/<key>` with the service's own name for it (`ecr:ResourceTag/<key>`,
 * `iam:ResourceTag/<key>`, `secretsmanager:ResourceTag/<key>`) from the tags the resource has.
 */
import type { ConditionContext } from './global.js';

export interface Tag {
  Key: string;
  Value: string;
}

/** aws:RequestTag/* and aws:TagKeys for a request that sets `tags` (none when it sets none, as AWS leaves both out). */
export function requestTagKeys(tags: readonly Tag[] | undefined): ConditionContext {
  if (tags === undefined || tags.length === 0) return {};
  const out: ConditionContext = {};
  for (const t of tags) out[`aws:RequestTag/${t.Key}`] = t.Value;
  out['aws:TagKeys'] = tags.map((t) => t.Key);
  return out;
}

/** aws:TagKeys for a request that removes the tags `keys`. */
export function removedTagKeys(keys: readonly string[] | undefined): ConditionContext {
  return keys === undefined || keys.length === 0 ? {} : { 'aws:TagKeys': [...keys] };
}

/** aws:ResourceTag/* and, for each of `services`, `<service>:ResourceTag/*`, from the resource's tags. */
export function resourceTagKeys(tags: readonly Tag[], services: readonly string[]): ConditionContext {
  const out: ConditionContext = {};
  for (const t of tags) {
    out[`aws:ResourceTag/${t.Key}`] = t.Value;
    for (const s of services) out[`${s}:ResourceTag/${t.Key}`] = t.Value;
  }
  return out;
}

/** A JSON request's `Tags`/`tags` list ({Key, Value}), for the keys above; malformed entries are left to the action's validation. */
export function jsonTags(tags: unknown): Tag[] | undefined {
  if (!Array.isArray(tags)) return undefined;
  return tags
    .filter((t): t is { Key: string; Value?: unknown } => typeof t === 'object' && t !== null && typeof (t as { Key?: unknown }).Key === 'string')
    .map((t) => ({ Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' }));
}
