/**
 * Small named JSON documents of a registry, read and written whole, never queried by field:
 * Secrets Manager secrets, pull-through cache rules, and when a cached tag was last checked
 * upstream. A write that must not lose a concurrent one replaces only the document it read.
 */
import type { Page } from './types.js';

export type DocumentKind = 'secret' | 'ptc-rule' | 'ptc-tag';

export interface DocumentRecord {
  registryId: string;
  kind: DocumentKind;
  name: string;
  /** JSON. */
  document: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface DocumentStore {
  get(registryId: string, kind: DocumentKind, name: string): Promise<DocumentRecord | undefined>;
  /** In name order (bytewise) after `page.after`, those whose name starts with `prefix`. */
  list(registryId: string, kind: DocumentKind, page: Page & { prefix?: string }): Promise<DocumentRecord[]>;
  /** Creates it; false when one of that name exists. */
  create(record: { registryId: string; kind: DocumentKind; name: string; document: string; now: Date }): Promise<boolean>;
  /**
   * Replaces it when its document is still `previous` (compare-and-set), or whatever it holds
   * when `previous` is undefined (creating it if absent); false when another write came first.
   */
  replace(record: { registryId: string; kind: DocumentKind; name: string; document: string; now: Date }, previous?: string): Promise<boolean>;
  /** Deletes it; false when absent. */
  delete(registryId: string, kind: DocumentKind, name: string): Promise<boolean>;
}
