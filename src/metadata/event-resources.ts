/**
 * EventBridge's resources as the metadata keeps them (rules with their targets, connections, API
 * destinations), and how either engine's row reads back.
 */
import { parseRegistryKey, type RegistryKey } from '../core/registry-key.js';
import type { Page } from './types.js';

export type EventResourceKind = 'rule' | 'connection' | 'api-destination';

export interface EventResourceRecord {
  registryKey: RegistryKey;
  kind: EventResourceKind;
  name: string;
  /** JSON, read and written whole. */
  document: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface EventTargetRecord {
  id: string;
  /** JSON of the target as PutTargets gave it. */
  document: string;
}

/** EventBridge rules, their targets, connections and API destinations of each registry. */
export interface EventResourceStore {
  get(registryKey: RegistryKey, kind: EventResourceKind, name: string): Promise<EventResourceRecord | undefined>;
  /** In name order after `page.after`, those whose name starts with `prefix`. */
  list(registryKey: RegistryKey, kind: EventResourceKind, page: Page & { prefix?: string }): Promise<EventResourceRecord[]>;
  /** Creates, or overwrites when `replace`; false when it exists and may not be replaced. */
  put(record: { registryKey: RegistryKey; kind: EventResourceKind; name: string; document: string; now: Date }, replace: boolean): Promise<boolean>;
  /** Deletes it (a rule with its targets); false when absent. */
  delete(registryKey: RegistryKey, kind: EventResourceKind, name: string): Promise<boolean>;
  /** Adds or replaces targets of an existing rule, unless the rule would exceed `max`. */
  putTargets(registryKey: RegistryKey, rule: string, targets: EventTargetRecord[], max: number): Promise<'ok' | 'noRule' | 'limit'>;
  /** The ids that were removed. */
  removeTargets(registryKey: RegistryKey, rule: string, ids: string[]): Promise<string[]>;
  /** In id order. */
  targets(registryKey: RegistryKey, rule: string): Promise<EventTargetRecord[]>;
}

/** A row of event_resources, as both engines return it. */
export interface EventResourceRow {
  registry_id: string;
  kind: string;
  name: string;
  document: string;
  created_at: number;
  updated_at: number;
}

export const toEventResource = (r: EventResourceRow): EventResourceRecord => ({
  registryKey: parseRegistryKey(r.registry_id),
  kind: r.kind as EventResourceKind,
  name: r.name,
  document: r.document,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});
