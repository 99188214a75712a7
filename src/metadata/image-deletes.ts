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
