/**
 * How a Berth KMS key's material is kept at rest: 32 random bytes sealed with AES-256-GCM under
 * a key derived from the server key (HKDF-SHA256, its own info string, so this use stays apart
 * from access-key sealing and login tokens), with the key's id in the AAD so sealed material
 * cannot be moved to another key's row. The same shape as src/auth/access-keys.ts: a copy of the
 * metadata alone yields no key material, and tampering fails loudly.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const INFO = 'berth kms key material v1';
const SEAL_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MATERIAL_BYTES = 32;

/** The key that seals every KMS key's material; derive once per server key. */
export function materialSealingKey(serverKey: Buffer): Buffer {
  if (serverKey.length !== 32) throw new Error('the server key must be 32 bytes');
  return Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), INFO, 32));
}

function aad(keyId: string): Buffer {
  return Buffer.from(`berth:kms-key-material:${SEAL_VERSION}:${keyId}`);
}

/** `v1.<iv>.<ciphertext>.<tag>`, base64url parts; a fresh random IV each time. */
export function sealMaterial(material: Buffer, sealingKey: Buffer, keyId: string): string {
  if (material.length !== MATERIAL_BYTES) throw new Error(`key material must be ${MATERIAL_BYTES} bytes`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey, iv);
  cipher.setAAD(aad(keyId));
  const ct = Buffer.concat([cipher.update(material), cipher.final()]);
  return [SEAL_VERSION, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** Decoding ignores stray characters and spare low bits; only the canonical encoding is accepted. */
function strictBase64url(s: string): Buffer | undefined {
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s ? b : undefined;
}

/** The material; throws when the value was altered, or sealed under another server key or for another key id. */
export function openMaterial(sealed: string, sealingKey: Buffer, keyId: string): Buffer {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) throw new Error('sealed key material: unknown format');
  const [iv, ct, tag] = parts.slice(1).map(strictBase64url) as [Buffer | undefined, Buffer | undefined, Buffer | undefined];
  if (!iv || !ct || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES || ct.length !== MATERIAL_BYTES) {
    throw new Error('sealed key material: unknown format');
  }
  const decipher = createDecipheriv('aes-256-gcm', sealingKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(keyId));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    throw new Error('sealed key material: authentication failed (wrong server key, or the value was altered)');
  }
}
