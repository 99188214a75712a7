/**
 * GetKeyPolicy, GetKeyRotationStatus, ListResourceTags: what Terraform's aws_kms_key reads back
 * after DescribeKey. Berth keeps no key policies, no rotation and no tags, so the answers are
 * constant: KMS's default key policy (the account decides through IAM, which is how Berth
 * authorizes) or, for an AWS managed key, its service's, rotation off, no tags.
 */
import { z } from 'zod';
import { rootArn } from '../../../auth/principal.js';
import type { KmsAction, KmsCall } from '../context.js';
import { managedKeyPolicyText } from '../managed-key-policy.js';
import { keyId, limit, marker, parseKmsInput, patterned, rule } from '../input.js';

async function authorizedKey(call: KmsCall, ref: string) {
  const key = await call.kms.keys.describe(call.accountId, call.region, ref);
  await call.authorize(key);
  return key;
}

/** A key's one policy is named `default`. */
const policyName = rule(patterned(1, 128, '[\\w]+'), (name) => name === 'default', "Member must be 'default', the only key policy name");

export const GetKeyPolicy: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ KeyId: keyId, PolicyName: policyName.optional() }), call.body);
  const key = await authorizedKey(call, input.KeyId);
  const managed = managedKeyPolicyText(key);
  if (managed !== undefined) return { Policy: managed, PolicyName: 'default' };
  const policy = {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: rootArn(key.accountId) }, Action: 'kms:*', Resource: '*' }],
  };
  return { Policy: JSON.stringify(policy, null, 2), PolicyName: 'default' };
};

export const GetKeyRotationStatus: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ KeyId: keyId }), call.body);
  const key = await authorizedKey(call, input.KeyId);
  return { KeyRotationEnabled: false, KeyId: key.arn };
};

export const ListResourceTags: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ KeyId: keyId, Limit: limit, Marker: marker }), call.body);
  await authorizedKey(call, input.KeyId);
  return { Tags: [], Truncated: false };
};
