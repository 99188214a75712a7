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

export function isRepositoryName(s: string): s is RepositoryName {
  return s.length >= 2 && s.length <= MAX_REPOSITORY_NAME && NAME_RE.test(s);
}

export function parseRepositoryName(s: string): RepositoryName {
  if (!isRepositoryName(s)) {
    throw new RegistryError(Codes.NameInvalid, 'invalid repository name', { name: s.slice(0, 300) });
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
