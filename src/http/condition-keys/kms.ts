/**
 * KMS's own condition keys (the Service Authorization Reference's "AWS Key Management Service"),
 * for the actions Berth serves: what the request asks (kms:CallerAccount on every action, a
 * CreateKey's key spec, usage, origin and tags, the algorithm of Encrypt and Decrypt, the alias
 * a request names the key by) and what the key is (the key resource's keys, on every action on a
 * key). The encryption context's keys are the crypto actions' own (kms/authz.ts).
 */
import type { Principal } from '../../auth/principal.js';
import type { KmsKeyRecord } from '../../metadata/types.js';
import { keyMetadata } from '../../kms/key-metadata.js';
import type { ConditionContext } from './global.js';
import { requestTagKeys } from './tags.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The actions whose KeyId may name the key by an alias: kms:RequestAlias is that alias. */
const TAKES_ALIAS = new Set(['Decrypt', 'DescribeKey', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']);

/** Each action's keys from its request, beyond kms:CallerAccount and kms:RequestAlias. */
const REQUEST_KEYS: Record<string, (body: Record<string, unknown>) => ConditionContext> = {
  CreateKey: (body) => ({
    'kms:KeySpec': str(body.KeySpec) ?? str(body.CustomerMasterKeySpec) ?? 'SYMMETRIC_DEFAULT',
    'kms:KeyUsage': str(body.KeyUsage) ?? 'ENCRYPT_DECRYPT',
    'kms:KeyOrigin': str(body.Origin) ?? 'AWS_KMS',
    'kms:MultiRegion': String(body.MultiRegion === true),
    'kms:BypassPolicyLockoutSafetyCheck': String(body.BypassPolicyLockoutSafetyCheck === true),
    ...requestTagKeys(kmsTags(body.Tags)),
  }),
  Encrypt: (body) => ({ 'kms:EncryptionAlgorithm': str(body.EncryptionAlgorithm) ?? 'SYMMETRIC_DEFAULT' }),
  Decrypt: (body) => ({ 'kms:EncryptionAlgorithm': str(body.EncryptionAlgorithm) ?? 'SYMMETRIC_DEFAULT' }),
};

export function kmsRequestKeys(op: string, body: Record<string, unknown>, principal: Principal): ConditionContext {
  const keyId = str(body.KeyId);
  const alias = keyId === undefined ? undefined : /^(?:arn:[^:]*:kms:[^:]*:[^:]*:)?(alias\/.+)$/.exec(keyId)?.[1];
  return {
    'kms:CallerAccount': principal.accountId,
    ...(TAKES_ALIAS.has(op) && alias !== undefined && { 'kms:RequestAlias': alias }),
    ...(Object.hasOwn(REQUEST_KEYS, op) ? REQUEST_KEYS[op]!(body) : {}),
  };
}

/** The key resource's condition keys, as its metadata says (Berth's keys carry no tags). */
export function kmsKeyResourceKeys(key: KmsKeyRecord): ConditionContext {
  const m = keyMetadata(key);
  return {
    'kms:KeyOrigin': m.Origin,
    'kms:KeySpec': m.KeySpec,
    'kms:KeyUsage': m.KeyUsage,
    'kms:MultiRegion': 'false',
    ...(key.alias !== undefined && { 'kms:ResourceAliases': [key.alias] }),
  };
}

/** CreateKey's `Tags` ({TagKey, TagValue}); malformed ones are left to validation. */
function kmsTags(tags: unknown): Array<{ Key: string; Value: string }> | undefined {
  if (!Array.isArray(tags)) return undefined;
  return tags
    .filter((t): t is { TagKey: string; TagValue?: unknown } => typeof t === 'object' && t !== null && typeof (t as { TagKey?: unknown }).TagKey === 'string')
    .map((t) => ({ Key: t.TagKey, Value: typeof t.TagValue === 'string' ? t.TagValue : '' }));
}
