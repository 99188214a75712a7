/**
 * CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey. Berth keeps symmetric encryption
 * keys whose material it generates, one region at a time, without key policies or tags: a
 * CreateKey asking for anything else is refused with UnsupportedOperationException rather than
 * quietly given something else (a Policy ignored would leave a key more open than asked).
 */
import { z } from 'zod';
import { KmsCodes } from '../../../core/errors.js';
import { apiKeyMetadata } from '../../../kms/key-metadata.js';
import type { KmsAction } from '../context.js';
import { grantTokens, keyId, limit, marker, oneOf, parseKmsInput, patterned, text } from '../input.js';
import { kmsWireError } from '../protocol.js';

/** The specs KMS's model lists (CustomerMasterKeySpec's; KeySpec's adds the newer ones). */
const KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
] as const;
/** Policy documents: tab, newline, carriage return and U+0020–U+00FF. */
const POLICY_TEXT = '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+';

const CreateKeyInput = z.object({
  Description: text(0, 8192).optional(),
  KeyUsage: oneOf(['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT']).optional(),
  KeySpec: oneOf([...KEY_SPECS, 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519']).optional(),
  CustomerMasterKeySpec: oneOf(KEY_SPECS).optional(),
  Origin: oneOf(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
  Policy: patterned(1, 131072, POLICY_TEXT).optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  Tags: z.array(z.object({ TagKey: text(1, 128), TagValue: text(0, 256) })).optional(),
  MultiRegion: z.boolean().optional(),
  CustomKeyStoreId: text(1, 64).optional(),
  XksKeyId: patterned(1, 128, '^[a-zA-Z0-9-_.]+$').optional(),
});

const unsupported = (what: string) => kmsWireError(KmsCodes.UnsupportedOperation, `Berth's KMS does not support ${what}`);

export const CreateKey: KmsAction = async (call) => {
  const input = parseKmsInput(CreateKeyInput, call.body);
  if ((input.KeyUsage ?? 'ENCRYPT_DECRYPT') !== 'ENCRYPT_DECRYPT') throw unsupported(`KeyUsage ${input.KeyUsage}: its keys are ENCRYPT_DECRYPT`);
  for (const spec of [input.KeySpec, input.CustomerMasterKeySpec]) {
    if (spec !== undefined && spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`the key spec ${spec.slice(0, 64)}: its keys are SYMMETRIC_DEFAULT`);
  }
  if ((input.Origin ?? 'AWS_KMS') !== 'AWS_KMS') throw unsupported(`Origin ${input.Origin}: it generates its keys' material (AWS_KMS)`);
  if (input.MultiRegion) throw unsupported('multi-Region keys');
  if (input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined) throw unsupported('custom key stores');
  if (input.Policy !== undefined) throw unsupported('key policies: IAM policies govern its keys, as under the default key policy');
  if (input.Tags !== undefined && input.Tags.length > 0) throw unsupported('tags on keys yet');
  await call.authorize('*');
  const key = await call.kms.keys.create(call.accountId, call.region, { ...(input.Description !== undefined && { description: input.Description }) });
  return { KeyMetadata: apiKeyMetadata(key) };
};

const KeyInput = z.object({ KeyId: keyId, GrantTokens: grantTokens });

export const DescribeKey: KmsAction = async (call) => {
  const input = parseKmsInput(KeyInput, call.body);
  const key = await call.kms.keys.describe(call.accountId, call.region, input.KeyId);
  await call.authorize(key);
  return { KeyMetadata: apiKeyMetadata(key) };
};

export const ListKeys: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ Limit: limit, Marker: marker }), call.body);
  await call.authorize('*');
  const page = await call.kms.listKeys(call.accountId, call.region, { limit: input.Limit ?? 100, ...(input.Marker !== undefined && { marker: input.Marker }) });
  return {
    Keys: page.items.map((k) => ({ KeyId: k.id, KeyArn: k.arn })),
    Truncated: page.nextMarker !== undefined,
    ...(page.nextMarker !== undefined && { NextMarker: page.nextMarker }),
  };
};

/** Both need the key to exist first; KMS then refuses either for an AWS managed key. */
const setState =
  (state: 'Enabled' | 'Disabled'): KmsAction =>
  async (call) => {
    const input = parseKmsInput(z.object({ KeyId: keyId }), call.body);
    const key = await call.kms.keys.describe(call.accountId, call.region, input.KeyId);
    await call.authorize(key);
    if (state === 'Enabled') await call.kms.keys.enable(call.accountId, call.region, key.id);
    else await call.kms.keys.disable(call.accountId, call.region, key.id);
    return {};
  };

export const EnableKey = setState('Enabled');
export const DisableKey = setState('Disabled');
