/**
 * ECR's pull-time update exclusions: per registry, the IAM principals (user or role ARNs) whose
 * pulls do not move an image's lastRecordedPullTime. The registry core validates the ARNs and
 * enforces the quota (registry/pull-exclusions.ts); the store keys them and counts them.
 */
import type { RegistryKey } from '../core/registry-key.js';
import type { Page } from './types.js';

export interface PullExclusionRecord {
  principalArn: string;
  createdAt: Date;
}

export interface PullExclusionStore {
  /**
   * Adds one, unless the registry has it ('exists') or already `limit` of them ('limit'); the
   * count and the insert are one transaction, so two nodes cannot pass the limit together.
   */
  add(registryKey: RegistryKey, principalArn: string, now: Date, limit: number): Promise<'added' | 'exists' | 'limit'>;
  /** False when the registry has no such exclusion. */
  remove(registryKey: RegistryKey, principalArn: string): Promise<boolean>;
  /** In ARN (byte) order after `page.after`. */
  list(registryKey: RegistryKey, page: Page): Promise<PullExclusionRecord[]>;
  /** Those of `principalArns` the registry excludes. */
  excluded(registryKey: RegistryKey, principalArns: string[]): Promise<Set<string>>;
}
