/** The name resolution of a batch image delete, shared by both engines so they cannot disagree. */
import type { Digest } from '../core/digest.js';
import type { ImageDeleteRequest } from './types.js';

export type ResolvedImage = { kind: 'resolved'; digest: Digest } | { kind: 'notFound' } | { kind: 'tagDigestMismatch' };

/**
 * ECR's rule: a tag must name an image (the digest, if given too, must be that image's); a digest
 * alone must be an image in the repository. `taggedDigest` is what the tag points at now, and
 * `digestExists` whether the requested digest is a manifest of the repository.
 */
export function resolveImage(image: ImageDeleteRequest, taggedDigest: string | undefined, digestExists: boolean): ResolvedImage {
  if (image.tag !== undefined) {
    if (taggedDigest === undefined) return { kind: 'notFound' };
    if (image.digest !== undefined && image.digest !== taggedDigest) return { kind: 'tagDigestMismatch' };
    return { kind: 'resolved', digest: taggedDigest as Digest };
  }
  return image.digest !== undefined && digestExists ? { kind: 'resolved', digest: image.digest } : { kind: 'notFound' };
}

/** Whether the image's tags now are exactly the ones a lifecycle policy was evaluated on. */
export function tagsUnchanged(current: readonly string[], planned: readonly string[]): boolean {
  if (current.length !== planned.length) return false;
  const set = new Set(planned);
  return current.every((t) => set.has(t));
}

/** How deep a chain of referrers (a signature of a signature ...) an expiry follows. */
export const MAX_REFERRER_DEPTH = 16;

/**
 * The referrers of a subject in one repository, transitively, deepest first (each row with the
 * longest chain that reaches it), for both engines: `repo` and `subject` are their placeholders.
 */
export function referrerClosureSql(repo: string, subject: string): string {
  return `WITH RECURSIVE closure(digest, depth) AS (
      SELECT digest, 1 FROM manifests WHERE repository_id = ${repo} AND subject_digest = ${subject}
      UNION
      SELECT m.digest, c.depth + 1 FROM manifests m JOIN closure c ON m.subject_digest = c.digest
      WHERE m.repository_id = ${repo} AND c.depth < ${MAX_REFERRER_DEPTH})
    SELECT digest, MAX(depth) AS depth FROM closure GROUP BY digest ORDER BY MAX(depth) DESC, digest`;
}
