/**
 * Small named JSON documents of a registry, read and written whole, never queried by field:
 * Secrets Manager secrets, pull-through cache rules, when a cached tag was last checked
 * upstream, and managed signing's profiles, configuration and per-image statuses. A write that must not lose a concurrent one replaces only the document it read.
 */
import { parseRegistryKey, type RegistryKey } from '../core/registry-key.js';
import type { Page } from './types.js';

export type DocumentKind = 'secret' | 'ptc-rule' | 'ptc-tag' | 'signing-profile' | 'signing-status';

export interface DocumentRecord {
  registryKey: RegistryKey;
  kind: DocumentKind;
  name: string;
  /** JSON. */
  document: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface DocumentStore {
  get(registryKey: RegistryKey, kind: DocumentKind, name: string): Promise<DocumentRecord | undefined>;
  /** In name order (bytewise) after `page.after`, those whose name starts with `prefix`. */
  list(registryKey: RegistryKey, kind: DocumentKind, page: Page & { prefix?: string }): Promise<DocumentRecord[]>;
  /** How many of a kind the registry holds (a feature's bound counts them). */
  count(registryKey: RegistryKey, kind: DocumentKind): Promise<number>;
  /** Creates it; false when one of that name exists. */
  create(record: { registryKey: RegistryKey; kind: DocumentKind; name: string; document: string; now: Date }): Promise<boolean>;
  /**
   * Replaces it when its document is still `previous` (compare-and-set), or whatever it holds
   * when `previous` is undefined (creating it if absent); false when another write came first.
   */
  replace(record: { registryKey: RegistryKey; kind: DocumentKind; name: string; document: string; now: Date }, previous?: string): Promise<boolean>;
  /** Deletes it; false when absent. */
  delete(registryKey: RegistryKey, kind: DocumentKind, name: string): Promise<boolean>;
}

/** A named_documents row as both engines read it (PostgreSQL may hand back its bigints as text). */
export interface DocumentRow {
  registry_id: string;
  kind: string;
  name: string;
  document: string;
  created_at: string | number;
  updated_at: string | number;
}

export const toDocumentRecord = (r: DocumentRow): DocumentRecord => ({
  registryKey: parseRegistryKey(r.registry_id),
  kind: r.kind as DocumentKind,
  name: r.name,
  document: r.document,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});
