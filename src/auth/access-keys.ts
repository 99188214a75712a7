/**
 * AWS-shaped access keys and how their secrets are kept at rest.
 *
 * SigV4 is an HMAC keyed (through a derivation chain) by the plaintext secret, so the server must
 * be able to recover the secret for every request it verifies: a one-way hash, as one would use
 * for a password, makes verification impossible. The next best thing is encryption: secrets are
 * sealed with AES-256-GCM under the 32-byte server key, so a copy of the metadata database alone
 * (a backup, a leaked dump) yields no usable credentials, and GCM's tag makes any tampering with a
 * sealed value fail loudly instead of yielding a wrong secret. Passing the access key id as
 * `context` binds a sealed secret to its row, so sealed values can't be swapped between keys.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SEAL_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** `AKIA` + 16 base32 characters (80 random bits), like an IAM user's long-term key id. */
export function generateAccessKeyId(): string {
  return 'AKIA' + base32(randomBytes(10));
}

/** 40 characters of A-Za-z0-9+/ (240 random bits), like an AWS secret access key. */
export function generateSecretAccessKey(): string {
  // 30 bytes encode to exactly 40 base64 characters, without padding.
  return randomBytes(30).toString('base64');
}

/** `ASIA` + 16 base32 characters: a temporary credential's key id, as STS's look. */
export function generateTemporaryAccessKeyId(): string {
  return 'ASIA' + base32(randomBytes(10));
}

export function isAccessKeyId(s: string): boolean {
  return /^AKIA[A-Z2-7]{16}$/.test(s);
}

function base32(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** The server key also authenticates login tokens; a derived key keeps the two uses apart. */
function sealingKey(serverKey: Buffer): Buffer {
  if (serverKey.length !== 32) throw new Error('the server key must be 32 bytes');
  return Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), 'berth access-key secret sealing v1', 32));
}

function aad(context: string): Buffer {
  return Buffer.from(`berth:access-key-secret:${SEAL_VERSION}:${context}`);
}

/** `v1.<iv>.<ciphertext>.<tag>`, base64url parts; a fresh random IV each time. */
export function sealSecret(plain: string, serverKey: Buffer, context = ''): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(serverKey), iv);
  cipher.setAAD(aad(context));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [SEAL_VERSION, iv.toString('base64url'), ct.toString('base64url'), tag.toString('base64url')].join('.');
}

/** Decoding ignores stray characters and spare low bits; only the canonical encoding is accepted. */
function strictBase64url(s: string): Buffer | undefined {
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s ? b : undefined;
}

/** The plaintext secret; throws when the value was altered, or sealed under another key or context. */
export function openSecret(sealed: string, serverKey: Buffer, context = ''): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) throw new Error('sealed secret: unknown format');
  const [iv, ct, tag] = parts.slice(1).map(strictBase64url) as [Buffer | undefined, Buffer | undefined, Buffer | undefined];
  if (!iv || !ct || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('sealed secret: unknown format');
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(serverKey), iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('sealed secret: authentication failed (wrong server key, or the value was altered)');
  }
}
