/**
 * How KMS names a key, and what a reference names in one account and region: a key id (a
 * UUID), a key ARN, an alias name (`alias/x`) or an alias ARN. A reference to another account's
 * or region's key, or a malformed one, names nothing here; it keeps the text KMS's not-found
 * message quotes. And the names a caller may give an alias.
 */

import { KmsCodes } from '../core/errors.js';
import { AWS_ALIAS_PREFIX } from './key-metadata.js';
import { kmsInvalid } from './kms-errors.js';

const ALIAS_RE = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KMS_ARN_RE = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

export const keyArn = (region: string, accountId: string, id: string): string => `arn:aws:kms:${region}:${accountId}:key/${id}`;
export const aliasArn = (region: string, accountId: string, alias: string): string => `arn:aws:kms:${region}:${accountId}:${alias}`;

export const isKeyUuid = (s: string): boolean => UUID_RE.test(s);

/** The 16 bytes that name a key in blob headers and ciphertexts: its UUID's own bytes. */
export function keyIdBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

export function uuidOf(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * What `ref` names in (accountId, region). `id` (lower-case) or `alias` is absent when the
 * reference cannot name a key here; `shown` is what a not-found message quotes.
 */
export type KeyRef = { kind: 'key'; id?: string; shown: string } | { kind: 'alias'; alias?: string; shown: string };

export function parseKeyRef(accountId: string, region: string, ref: string): KeyRef {
  if (UUID_RE.test(ref)) return { kind: 'key', id: ref.toLowerCase(), shown: keyArn(region, accountId, ref) };
  if (ref.startsWith('alias/')) return { kind: 'alias', alias: ref, shown: aliasArn(region, accountId, ref) };
  const m = KMS_ARN_RE.exec(ref);
  if (!m) return { kind: 'key', shown: ref };
  const [, arnRegion, arnAccount, kind, name] = m as unknown as [string, string, string, 'key' | 'alias', string];
  const here = arnRegion === region && arnAccount === accountId;
  if (kind === 'alias') return here ? { kind, alias: `alias/${name}`, shown: ref } : { kind, shown: ref };
  return here && UUID_RE.test(name) ? { kind, id: name.toLowerCase(), shown: ref } : { kind, shown: ref };
}

/** KMS's rules for alias names a caller may choose: `alias/aws/` is the service's. */
export function checkAliasName(alias: string): void {
  if (!ALIAS_RE.test(alias)) {
    throw kmsInvalid(KmsCodes.InvalidAliasName, `Alias '${alias}' is invalid: an alias name is alias/ followed by 1 to 250 of A-Z a-z 0-9 / _ -`);
  }
  if (alias.toLowerCase().startsWith(AWS_ALIAS_PREFIX)) {
    throw kmsInvalid(KmsCodes.InvalidAliasName, `Alias '${alias}' is invalid: ${AWS_ALIAS_PREFIX} is reserved for AWS managed keys`);
  }
}
