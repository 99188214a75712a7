/**
 * Repository creation templates (ECR's RCTs) of each registry: the settings a repository that
 * Berth creates on someone's behalf (create-on-push, replication, the pull-through cache) is
 * born with. A template is read and written whole, as a JSON document the registry core
 * shapes and validates (registry/creation-templates.ts); the store only keys it by prefix and
 * keeps a version so that an update built from a read is not lost to another one.
 */
import { parseRegistryKey, type RegistryKey } from '../core/registry-key.js';
import type { Page } from './types.js';

export interface CreationTemplateRecord {
  registryKey: RegistryKey;
  /** `ROOT`, or a repository namespace without its (implicit) trailing slash. */
  prefix: string;
  /** JSON, read and written whole. */
  document: string;
  /** 1 when created; each update adds one. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreationTemplateStore {
  get(registryKey: RegistryKey, prefix: string): Promise<CreationTemplateRecord | undefined>;
  /** Those of `prefixes` that exist, in prefix (byte) order. */
  getMany(registryKey: RegistryKey, prefixes: string[]): Promise<CreationTemplateRecord[]>;
  /** In prefix (byte) order after `page.after`. */
  list(registryKey: RegistryKey, page: Page): Promise<CreationTemplateRecord[]>;
  /** Stores a new template; false (nothing written) when the prefix already has one. */
  create(template: { registryKey: RegistryKey; prefix: string; document: string; now: Date }): Promise<boolean>;
  /**
   * Replaces the document if the template is still at `expectedVersion`; undefined when it is
   * gone or was changed since (the caller reads again and retries).
   */
  update(registryKey: RegistryKey, prefix: string, document: string, expectedVersion: number, now: Date): Promise<CreationTemplateRecord | undefined>;
  /** Removes it and returns what it was; undefined when absent. */
  delete(registryKey: RegistryKey, prefix: string): Promise<CreationTemplateRecord | undefined>;
}

/** A repository_creation_templates row as both engines read it. */
export interface CreationTemplateRow {
  registry_id: string;
  prefix: string;
  document: string;
  version: number;
  created_at: number;
  updated_at: number;
}

export const toCreationTemplate = (r: CreationTemplateRow): CreationTemplateRecord => ({
  registryKey: parseRegistryKey(r.registry_id),
  prefix: r.prefix,
  document: r.document,
  version: r.version,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});
