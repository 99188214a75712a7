/**
 * Content digests (`algorithm:hex`). Only sha256 and sha512 are accepted, so a digest string is
 * always safe to use in a storage path once parsed.
 */
import { createHash, type Hash } from 'node:crypto';
import { Codes, RegistryError } from './errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** A validated digest, e.g. `sha256:9f86d0...`. The brand keeps unchecked strings out. */
export type Digest = string & { readonly __digest: unique symbol };

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function isDigest(s: string): s is Digest {
  const m = DIGEST_RE.exec(s);
  if (!m) return false;
  return m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Parses a client-supplied digest; throws DIGEST_INVALID (or `unsupported` for other algorithms). */
export function parseDigest(s: string): Digest {
  if (isDigest(s)) return s;
  if (/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(s) && !DIGEST_RE.test(s)) {
    const alg = s.split(':')[0];
    if (alg !== 'sha256' && alg !== 'sha512') {
      throw new RegistryError(Codes.DigestInvalid, `unsupported digest algorithm: ${alg}`, { digest: s });
    }
  }
  throw new RegistryError(Codes.DigestInvalid, 'invalid digest', { digest: s });
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function createDigester(alg: DigestAlgorithm): Hash {
  return createHash(alg);
}

export function digestOf(data: Uint8Array | string, alg: DigestAlgorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(data).digest('hex')}` as Digest;
}
