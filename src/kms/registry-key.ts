/**
 * The registry key: the wrapping key of AES256 repositories, as ECR's default encryption uses a
 * key the service owns. Derived from the server key (HKDF-SHA256, its own info string), so every
 * node sharing the server key has it and nothing about it is stored; its id is derived the same
 * way under another info string, so the id tells nothing about the key.
 */
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import type { WrappingKey, WrappingKeys } from '../blobstore/encrypted/wrapping-keys.js';

const KEY_INFO = 'berth blob encryption registry key v1';
const ID_INFO = 'berth blob encryption registry key id v1';

/** The message of every lookup of a key id nobody knows. */
export const UNKNOWN_KEY_MESSAGE = 'blob sealed under an unknown key';

function derive(serverKey: Buffer, info: string, length: number): Buffer {
  if (serverKey.length !== 32) throw new Error('the server key must be 32 bytes');
  return Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), info, length));
}

export function registryWrappingKey(serverKey: Buffer): WrappingKey {
  // HKDF's output is a prefix of a longer one: these 16 bytes are the first 16 of any length.
  return { id: derive(serverKey, ID_INFO, 16), key: derive(serverKey, KEY_INFO, 32) };
}

/** Whether `id` names `key` (ids are not secret; the comparison is constant-time anyway). */
export function isKeyId(key: WrappingKey, id: Buffer): boolean {
  return id.length === key.id.length && timingSafeEqual(id, key.id);
}

/** The registry key alone: what AES256 repositories seal under and open with. */
export function registryWrappingKeys(serverKey: Buffer): WrappingKeys {
  const key = registryWrappingKey(serverKey);
  return {
    async current() {
      return key;
    },
    async byId(id) {
      if (!isKeyId(key, id)) throw new Error(UNKNOWN_KEY_MESSAGE);
      return key;
    },
  };
}
