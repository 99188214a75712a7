/**
 * Repository names and tags, by the OCI distribution grammar with ECR's limits: lowercase path
 * components separated by `/`, at most 256 characters; tags `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
 */
import { Codes, RegistryError } from './errors.js';
import { isDigest, type Digest } from './digest.js';

export type RepositoryName = string & { readonly __repositoryName: unique symbol };
export type Tag = string & { readonly __tag: unique symbol };

export const MAX_REPOSITORY_NAME = 256;
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/**
 * /v2's fallback form for another account's registry, `/v2/account--<account>/<name>`
 * (http/registry-address.ts): a first component starting so is reserved, never a repository.
 */
export const ACCOUNT_PATH_PREFIX = 'account--';

export function isRepositoryName(s: string): s is RepositoryName {
  return s.length >= 2 && s.length <= MAX_REPOSITORY_NAME && NAME_RE.test(s) && !s.startsWith(ACCOUNT_PATH_PREFIX);
}

export function parseRepositoryName(s: string): RepositoryName {
  if (!isRepositoryName(s)) {
    const why = s.startsWith(ACCOUNT_PATH_PREFIX)
      ? `invalid repository name: '${ACCOUNT_PATH_PREFIX}' names another account's registry`
      : 'invalid repository name';
    throw new RegistryError(Codes.NameInvalid, why, { name: s.slice(0, 300) });
  }
  return s;
}

export function isTag(s: string): s is Tag {
  return TAG_RE.test(s);
}

export function parseTag(s: string): Tag {
  if (!isTag(s)) throw new RegistryError(Codes.TagInvalid, 'invalid tag', { tag: s.slice(0, 200) });
  return s;
}

/** A manifest reference: a tag or a digest. */
export type Reference = { kind: 'tag'; tag: Tag } | { kind: 'digest'; digest: Digest };

export function parseReference(s: string): Reference {
  if (s.includes(':')) {
    if (isDigest(s)) return { kind: 'digest', digest: s };
    throw new RegistryError(Codes.DigestInvalid, 'invalid digest', { reference: s.slice(0, 200) });
  }
  if (isTag(s)) return { kind: 'tag', tag: s };
  throw new RegistryError(Codes.TagInvalid, 'invalid tag', { reference: s.slice(0, 200) });
}
