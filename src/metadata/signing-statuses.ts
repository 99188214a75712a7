/**
 * Managed signing's statuses go with their image. They are named documents (kind
 * 'signing-status') named `<repository>@<digest>#<profile ARN>` (registry/signing.ts); an image
 * delete (BatchDeleteImage, /v2, lifecycle expiry) and a repository delete remove them in their
 * own transaction, so the statuses of images that are gone do not pile up.
 *
 * The names to remove are those between two bounds: everything after `<repository>@<digest>#`
 * and before `<repository>@<digest>$` ('$' follows '#'), or for a repository, between
 * `<repository>@` and `<repository>A` ('A' follows '@'; repository names hold no '@'). Bytewise
 * comparisons, so the primary key's index finds them on either engine (PostgreSQL compares in
 * "C" when its database sorts otherwise).
 */
import type { Digest } from '../core/digest.js';

export const SIGNING_STATUS_KIND = 'signing-status';

/** The prefix of an image's statuses, or with no digest every status of the repository's images. */
export function signingStatusPrefix(repository: string, digest?: Digest): string {
  return digest === undefined ? `${repository}@` : `${repository}@${digest}#`;
}

/** [from, before): the names that start with a prefix ending in '@' or '#'. */
export function statusNameRange(prefix: string): [string, string] {
  const last = prefix.charCodeAt(prefix.length - 1);
  return [prefix, prefix.slice(0, -1) + String.fromCharCode(last + 1)];
}

/** Deletes the statuses in a name range; parameters: registry_id, from, before. */
export function deleteSigningStatusesSql(param: (n: number) => string, collate = ''): string {
  return `DELETE FROM named_documents WHERE registry_id = ${param(1)} AND kind = '${SIGNING_STATUS_KIND}'
    AND name${collate} >= ${param(2)} AND name${collate} < ${param(3)}`;
}
