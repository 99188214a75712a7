/**
 * The staged-upload format of earlier versions (v1), kept so that uploads staged before an
 * upgrade can still be read, resumed and committed (staged-rebase.ts rebases them into v2);
 * nothing new is written in it. Staged uploads grow by appends of any size, possibly from
 * different nodes, so the cipher must be length-preserving and seekable: AES-256-CTR, whose byte
 * n depends only on the key and n. A staged object is
 *
 *   wrapping key id (16) || salt (16) || AES-256-CTR(stagingKey, counter = 0 at byte 0) of the bytes
 *
 * The key id lets any node that resumes the upload find the wrapping key. The CTR key is derived
 * per (wrapping key, salt, upload id), and restarting an upload draws a new salt, so no two
 * different plaintexts are ever sealed at one position of one keystream. Staged bytes are not
 * authenticated here: commit re-hashes the plaintext and checks it against the digest.
 */
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Transform } from 'node:stream';
import type { WrappingKey } from './wrapping-keys.js';

export const STAGING_PREFIX_SIZE = 32;
const BLOCK = 16;
const INFO = 'berth staging v1:';

export interface StagingPrefix {
  keyId: Buffer;
  salt: Buffer;
}

/** The 32 bytes a v1 staged object starts with (tests write v1 uploads to check they still commit). */
export function newStagingPrefix(key: WrappingKey): Buffer {
  return Buffer.concat([key.id.subarray(0, 16), randomBytes(16)]);
}

export function parseStagingPrefix(prefix: Buffer): StagingPrefix {
  if (prefix.length !== STAGING_PREFIX_SIZE) throw new Error(`a staging prefix is ${STAGING_PREFIX_SIZE} bytes, got ${prefix.length}`);
  return { keyId: Buffer.from(prefix.subarray(0, 16)), salt: Buffer.from(prefix.subarray(16)) };
}

/** HKDF-SHA256(ikm = wrapping key, salt, info = 'berth staging v1:' + upload id), 32 bytes. */
export function stagingKey(wrappingKey: WrappingKey, salt: Buffer, uploadId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', wrappingKey.key, salt, INFO + uploadId, 32));
}

/**
 * A transform that encrypts (or, being CTR, equally decrypts) bytes that start at plaintext
 * `offset` of the staged upload: the counter starts at offset / 16 and the first offset % 16
 * bytes of that block's keystream are skipped.
 */
export function createStagingCipher(key: Buffer, offset: number): Transform {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid staging offset ${offset}`);
  const iv = Buffer.alloc(BLOCK);
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / BLOCK)), 8);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const skip = offset % BLOCK;
  if (skip > 0) cipher.update(Buffer.alloc(skip));
  return cipher;
}
