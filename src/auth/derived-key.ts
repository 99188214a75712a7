/**
 * A key derived from the server key for one purpose, with the id a token names it by: HKDF-SHA256
 * under the purpose's own labels, so a key of one purpose (session tokens, replication tokens,
 * via-service proofs) never opens or verifies another's. Cached per server key and purpose.
 */
import { hkdfSync } from 'node:crypto';

export interface DerivedKey {
  /** 6 bytes, base64url: which server key (of several configured) a token was made under. */
  kid: string;
  key: Buffer;
}

/** The labels HKDF derives a purpose's key id and key under; changing one invalidates what was made under it. */
export interface Purpose {
  idLabel: string;
  keyLabel: string;
}

const cache = new WeakMap<Buffer, Map<string, DerivedKey>>();

export function derivedKey(serverKey: Buffer, purpose: Purpose): DerivedKey {
  let byPurpose = cache.get(serverKey);
  if (!byPurpose) cache.set(serverKey, (byPurpose = new Map()));
  let d = byPurpose.get(purpose.keyLabel);
  if (!d) {
    if (serverKey.length !== 32) throw new Error('the server key must be 32 bytes');
    const hk = (info: string, n: number) => Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), info, n));
    d = { kid: hk(purpose.idLabel, 6).toString('base64url'), key: hk(purpose.keyLabel, 32) };
    byPurpose.set(purpose.keyLabel, d);
  }
  return d;
}
