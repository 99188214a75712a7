/**
 * Key-encryption keys as the encrypting blob store sees them. Every blob gets its own random
 * data key; that data key is stored in the blob's header wrapped (AES-256-GCM) under a wrapping
 * key, which is the registry key (AES256 repositories) or a customer KMS key. The header names
 * the wrapping key by id, so a blob can be opened without knowing which repository it came from.
 */
import type { KeyObject } from 'node:crypto';

export interface WrappingKey {
  /** 16 bytes naming the key in blob headers; not secret. */
  readonly id: Buffer;
  /** 32 bytes of AES-256 key material. */
  readonly key: Buffer;
  /**
   * The same key as a KeyObject, when its holder keeps one: a decipher given raw bytes builds a
   * key object of its own each time (most of a small blob GET's cipher work).
   */
  readonly keyObject?: KeyObject;
}

export interface WrappingKeys {
  /** The key new blobs are sealed under; rejects when it may not be used (a disabled KMS key). */
  current(): Promise<WrappingKey>;
  /** The key a blob header names; rejects when it is unknown or may not be used. */
  byId(id: Buffer): Promise<WrappingKey>;
}
