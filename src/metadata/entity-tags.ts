/**
 * Tag changes of IAM's tagged entities (users, roles, customer managed policies: Tag/Untag User,
 * Role, Policy), one
 * rule for both: read the entity's tags, apply the change, refuse past the limit, write, all in one
 * transaction per engine (sqlite/entity-tags.ts, postgres/entity-tags.ts). The entity is named
 * exactly (the admin layer found it in any case first).
 */
export type Tags = Array<{ Key: string; Value: string }>;

export interface TagChange {
  add: Tags;
  remove: string[];
  max: number;
}

/** The tables whose rows carry IAM tags (a `tags` JSON column), keyed by account_id and name. */
export type TaggedTable = 'users' | 'roles' | 'customer_policies';

/** True when changed, 'limit' when the entity would have more than `max` tags (nothing changed), false when it is gone. */
export type TagChangeOutcome = boolean | 'limit';

/**
 * An entity's tags after a change: `remove`'s keys go, then `add`'s replace any of the same key,
 * keys compared without regard to case as IAM does (an entity cannot have both `Team` and `team`).
 */
export function tagsAfter(current: Tags, change: { add: Tags; remove: string[] }): Tags {
  const gone = new Set([...change.remove, ...change.add.map((t) => t.Key)].map((k) => k.toLowerCase()));
  return [...current.filter((t) => !gone.has(t.Key.toLowerCase())), ...change.add];
}

/** The outcome of `change` on `stored` (the row's tags column, undefined when the row is gone), and what to write. */
export function applyTagChange(stored: string | undefined, change: TagChange): { outcome: TagChangeOutcome; write?: string } {
  if (stored === undefined) return { outcome: false };
  const tags = tagsAfter(JSON.parse(stored) as Tags, change);
  return tags.length > change.max ? { outcome: 'limit' } : { outcome: true, write: JSON.stringify(tags) };
}
