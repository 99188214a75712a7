/**
 * A repository's ECR settings (tag mutability, scan on push, encryption) and the tag
 * immutability rule, which the registry core applies to every push whichever API it came by.
 */
import { tokensMatch, wildcardTokens } from './wildcard.js';

export const TAG_MUTABILITIES = ['MUTABLE', 'IMMUTABLE', 'IMMUTABLE_WITH_EXCLUSION', 'MUTABLE_WITH_EXCLUSION'] as const;
export type TagMutability = (typeof TAG_MUTABILITIES)[number];

export interface MutabilityFilter {
  filterType: 'WILDCARD';
  filter: string;
}

export const ENCRYPTION_TYPES = ['AES256', 'KMS', 'KMS_DSSE'] as const;
export type EncryptionType = (typeof ENCRYPTION_TYPES)[number];

export interface RepositorySettings {
  imageTagMutability: TagMutability;
  imageTagMutabilityExclusionFilters?: MutabilityFilter[];
  scanOnPush: boolean;
  encryptionType: EncryptionType;
  kmsKey?: string;
}

export const defaultRepositorySettings: RepositorySettings = {
  imageTagMutability: 'MUTABLE',
  scanOnPush: false,
  encryptionType: 'AES256',
};

/** ECR's `*` wildcard: any run of characters, the rest literal, anchored at both ends. */
export function wildcardMatch(pattern: string, value: string): boolean {
  return tokensMatch(wildcardTokens(pattern, false), value);
}

/**
 * Whether `tag` may not be moved to another image: always under IMMUTABLE; under
 * IMMUTABLE_WITH_EXCLUSION unless a filter matches it; under MUTABLE_WITH_EXCLUSION only if a
 * filter matches it.
 */
export function isTagImmutable(settings: RepositorySettings, tag: string): boolean {
  const matches = () => (settings.imageTagMutabilityExclusionFilters ?? []).some((f) => wildcardMatch(f.filter, tag));
  switch (settings.imageTagMutability) {
    case 'MUTABLE':
      return false;
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !matches();
    case 'MUTABLE_WITH_EXCLUSION':
      return matches();
  }
}
