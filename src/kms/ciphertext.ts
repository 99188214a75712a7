/**
 * The ciphertext blobs of Berth's KMS API (Encrypt and GenerateDataKey make them, Decrypt opens
 * them). Version 1:
 *
 *   offset  bytes  field
 *   0       1      version, 0x01
 *   1       16     the KMS key's id (its UUID's bytes): Decrypt finds the key from the blob
 *   17      12     nonce, random per blob
 *   29      n      AES-256-GCM ciphertext (n = the plaintext's length)
 *   29 + n  16     the GCM tag
 *
 * The cipher key is not the KMS key's material, which also wraps blob data keys in the blob
 * store, but a subkey derived from it with HKDF-SHA256 (empty salt, info 'berth kms api v1',
 * see KmsKeys.deriveKey): a ciphertext of this API and a wrapped blob key can never stand in for
 * each other. The AAD is the blob's first 17 bytes (version and key id) followed by the
 * canonical encoding of the encryption context (encodeContext), so a blob opens only under its
 * own key with exactly the context it was made with, whatever order the caller lists it in;
 * any other change to any byte fails the tag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsCodes } from '../core/errors.js';
import { kmsError } from './kms-errors.js';

/** The HKDF info of the subkey every KMS API ciphertext is made under. */
export const CIPHERTEXT_KEY_INFO = 'berth kms api v1';
const VERSION = 0x01;
const KEY_ID_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** The size of a blob around its ciphertext. */
export const CIPHERTEXT_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

export type EncryptionContext = Record<string, string>;

export const invalidCiphertext = (why: string) => kmsError(KmsCodes.InvalidCiphertext, `The ciphertext is invalid: ${why}`);

/**
 * The encryption context as bytes, the same for any order of its pairs: a big-endian u32 count,
 * then each pair in ascending order of the key's UTF-8 bytes as a u32 length and the UTF-8 key,
 * a u32 length and the UTF-8 value. Length prefixes keep `{"a:b": "c"}` and `{"a": "b:c"}` apart.
 */
export function encodeContext(context: EncryptionContext): Buffer {
  const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  pairs.sort((x, y) => Buffer.compare(x[0], y[0]));
  const parts: Buffer[] = [u32(pairs.length)];
  for (const [k, v] of pairs) parts.push(u32(k.length), k, u32(v.length), v);
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function aad(header: Buffer, context: EncryptionContext): Buffer {
  return Buffer.concat([header, encodeContext(context)]);
}

/** A new blob of `plaintext` under `subkey` (the key's CIPHERTEXT_KEY_INFO subkey), bound to `context`. */
export function sealCiphertext(opts: { subkey: Buffer; keyId: Buffer; plaintext: Buffer; context: EncryptionContext }): Buffer {
  if (opts.subkey.length !== 32) throw new Error('the ciphertext subkey must be 32 bytes');
  if (opts.keyId.length !== KEY_ID_BYTES) throw new Error(`a key id is ${KEY_ID_BYTES} bytes`);
  const header = Buffer.concat([Buffer.of(VERSION), opts.keyId]);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', opts.subkey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(header, opts.context));
  const body = Buffer.concat([cipher.update(opts.plaintext), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
}

/** The key id a blob names (16 bytes); rejects with InvalidCiphertextException when it is no blob of ours. */
export function ciphertextKeyId(blob: Buffer): Buffer {
  if (blob.length < CIPHERTEXT_OVERHEAD) throw invalidCiphertext('too short');
  if (blob[0] !== VERSION) throw invalidCiphertext('unknown format');
  return Buffer.from(blob.subarray(1, HEADER_BYTES));
}

/** The plaintext; rejects with InvalidCiphertextException when the blob was altered or the context differs. */
export function openCiphertext(opts: { subkey: Buffer; blob: Buffer; context: EncryptionContext }): Buffer {
  const { blob } = opts;
  ciphertextKeyId(blob);
  const header = blob.subarray(0, HEADER_BYTES);
  const nonce = blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const body = blob.subarray(HEADER_BYTES + NONCE_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', opts.subkey, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(header, opts.context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw invalidCiphertext('it was altered, or the encryption context does not match');
  }
}
