/**
 * The KMS API's rules over Berth's keys (src/http/kms/ holds the wire): keys and aliases listed
 * in pages, ciphertexts made and opened under each key's API subkey (ciphertext.ts), data keys
 * generated. Callers find the key (KmsKeys.describe) and authorize the caller on its ARN first,
 * as KMS does: an unknown key is NotFoundException whoever asks, a disabled one
 * DisabledException only to those allowed to use it.
 */
import { randomBytes } from 'node:crypto';
import { KmsCodes } from '../core/errors.js';
import type { KmsKeyRecord } from '../metadata/types.js';
import { CIPHERTEXT_KEY_INFO, ciphertextKeyId, invalidCiphertext, openCiphertext, sealCiphertext, type EncryptionContext } from './ciphertext.js';
import { aliasArn, keyIdBytes, uuidOf } from './key-refs.js';
import { isKmsKeyError, kmsError } from './kms-errors.js';
import type { KmsKeys } from './kms-keys.js';

export interface Page<T> {
  items: T[];
  /** Where the next page starts; absent on the last page. */
  nextMarker?: string;
}

export interface AliasListEntry {
  AliasName: string;
  AliasArn: string;
  TargetKeyId: string;
  /** Berth keeps no date of its own for an alias: these are its key's creation date. */
  CreationDate: Date;
  LastUpdatedDate: Date;
}

export class KmsService {
  constructor(readonly keys: KmsKeys) {}

  /** The account's keys in this region, oldest first. */
  async listKeys(accountId: string, region: string, page: { limit: number; marker?: string }): Promise<Page<KmsKeyRecord>> {
    return paginate(await this.keys.list(accountId, region), () => true, { ...page, op: 'ListKeys' });
  }

  /** The account's aliases in this region (of one key when `keyId` is given), in their keys' order. */
  async listAliases(accountId: string, region: string, opts: { keyId?: string; limit: number; marker?: string }): Promise<Page<AliasListEntry>> {
    const wanted = (k: KmsKeyRecord) => k.alias !== undefined && (opts.keyId === undefined || k.id === opts.keyId);
    const page = paginate(await this.keys.list(accountId, region), wanted, { ...opts, op: 'ListAliases' });
    const items = page.items.map((k) => ({
      AliasName: k.alias!,
      AliasArn: aliasArn(region, accountId, k.alias!),
      TargetKeyId: k.id,
      CreationDate: k.createdAt,
      LastUpdatedDate: k.createdAt,
    }));
    return { items, ...(page.nextMarker !== undefined && { nextMarker: page.nextMarker }) };
  }

  /** A ciphertext of `plaintext` under `key`, bound to `context`; DisabledException while the key is disabled. */
  async encrypt(key: KmsKeyRecord, plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    const subkey = await this.keys.deriveKey(key, CIPHERTEXT_KEY_INFO);
    try {
      return sealCiphertext({ subkey, keyId: keyIdBytes(key.id), plaintext, context });
    } finally {
      subkey.fill(0);
    }
  }

  /**
   * The key a ciphertext was made under. A blob that names no key of this account and region is
   * InvalidCiphertextException (the key id is part of what may have been tampered with); a
   * `keyRef` naming another key than the blob's is IncorrectKeyException.
   */
  async keyOfCiphertext(accountId: string, region: string, blob: Buffer, keyRef?: string): Promise<KmsKeyRecord> {
    const named = keyRef === undefined ? undefined : await this.keys.describe(accountId, region, keyRef);
    const id = uuidOf(ciphertextKeyId(blob));
    let key: KmsKeyRecord;
    try {
      key = await this.keys.describe(accountId, region, id);
    } catch (e) {
      if (isKmsKeyError(e) && e.kms === KmsCodes.NotFound) throw invalidCiphertext('it names no key of this account and region');
      throw e;
    }
    if (named && named.id !== key.id) {
      throw kmsError(KmsCodes.IncorrectKey, `The key ID in the request does not identify the key that was used to encrypt the ciphertext (${named.arn})`);
    }
    return key;
  }

  /** The plaintext of a ciphertext made under `key` (keyOfCiphertext) with `context`. */
  async decrypt(key: KmsKeyRecord, blob: Buffer, context: EncryptionContext): Promise<Buffer> {
    const subkey = await this.keys.deriveKey(key, CIPHERTEXT_KEY_INFO);
    try {
      return openCiphertext({ subkey, blob, context });
    } finally {
      subkey.fill(0);
    }
  }

  /** `bytes` random bytes, and the same encrypted under `key` with `context`. */
  async generateDataKey(key: KmsKeyRecord, bytes: number, context: EncryptionContext): Promise<{ plaintext: Buffer; ciphertext: Buffer }> {
    const plaintext = randomBytes(bytes);
    return { plaintext, ciphertext: await this.encrypt(key, plaintext, context) };
  }
}

/**
 * One page of `all` (in its stored order) filtered by `include`. The marker is the id of the
 * last key of the previous page, sealed with the operation's name; keys are never deleted, so
 * it always names a position, even after an alias moved.
 */
function paginate(all: KmsKeyRecord[], include: (k: KmsKeyRecord) => boolean, opts: { limit: number; marker?: string; op: string }): Page<KmsKeyRecord> {
  let start = 0;
  if (opts.marker !== undefined) {
    const after = decodeMarker(opts.op, opts.marker);
    const at = all.findIndex((k) => k.id === after);
    if (at < 0) throw invalidMarker();
    start = at + 1;
  }
  const items: KmsKeyRecord[] = [];
  for (let i = start; i < all.length; i++) {
    if (!include(all[i]!)) continue;
    if (items.length === opts.limit) return { items, nextMarker: encodeMarker(opts.op, items[items.length - 1]!.id) };
    items.push(all[i]!);
  }
  return { items };
}

const invalidMarker = () => kmsError(KmsCodes.InvalidMarker, 'The marker is invalid: pass the NextMarker of the previous page');

function encodeMarker(op: string, after: string): string {
  return Buffer.from(JSON.stringify({ op, after })).toString('base64url');
}

function decodeMarker(op: string, marker: string): string {
  try {
    const v = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8')) as { op?: unknown; after?: unknown };
    if (v.op === op && typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw invalidMarker();
}
