/**
 * Secrets Manager's own condition keys (the Service Authorization Reference's "AWS Secrets
 * Manager"), for the actions Berth serves: what the request asks (a CreateSecret's name,
 * description, KMS key (as named, and its ARN), type and tags; an UpdateSecret's description, KMS key and type; the version GetSecretValue reads;
 * how DeleteSecret deletes; the tags TagResource sets and UntagResource removes) and what the
 * secret is (its ARN as secretsmanager:SecretId, its tags, its primary region, and the Type it was
 * created with as secretsmanager:resource/Type), on every action on a secret. Left absent:
 * resource/AllowRotationLambdaArn (no rotation), and the replica keys (replicas are refused).
 */
import type { SecretDoc } from '../../secrets/secrets.js';
import type { ConditionContext } from './global.js';
import { jsonTags, removedTagKeys, requestTagKeys, resourceTagKeys } from './tags.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Each action's keys from its request. */
const REQUEST_KEYS: Record<string, (body: Record<string, unknown>) => ConditionContext> = {
  CreateSecret: (body) => ({
    'secretsmanager:Name': str(body.Name),
    'secretsmanager:Description': str(body.Description),
    'secretsmanager:KmsKeyId': str(body.KmsKeyId),
    'secretsmanager:Type': str(body.Type),
    ...requestTagKeys(jsonTags(body.Tags)),
  }),
  UpdateSecret: (body) => ({
    'secretsmanager:Description': str(body.Description),
    'secretsmanager:KmsKeyId': str(body.KmsKeyId),
    'secretsmanager:Type': str(body.Type),
  }),
  GetSecretValue: (body) => ({
    'secretsmanager:VersionId': str(body.VersionId),
    'secretsmanager:VersionStage': str(body.VersionStage),
  }),
  DeleteSecret: (body) => ({
    'secretsmanager:ForceDeleteWithoutRecovery': String(body.ForceDeleteWithoutRecovery === true),
    'secretsmanager:RecoveryWindowInDays': typeof body.RecoveryWindowInDays === 'number' ? String(body.RecoveryWindowInDays) : undefined,
  }),
  TagResource: (body) => requestTagKeys(jsonTags(body.Tags)),
  UntagResource: (body) => removedTagKeys(Array.isArray(body.TagKeys) ? body.TagKeys.filter((k): k is string => typeof k === 'string') : undefined),
};

/**
 * secretsmanager:KmsKeyArn on CreateSecret and UpdateSecret: the ARN of the key its KmsKeyId names (a key id, key
 * ARN, alias name or alias ARN), so a policy can name keys by ARN whatever the caller wrote.
 * Absent when the request names no key or a key this account does not have.
 */
export async function secretsKmsKeyArn(
  op: string,
  body: Record<string, unknown>,
  arnOf: (keyRef: string) => Promise<string | undefined> | undefined,
): Promise<ConditionContext> {
  if ((op !== 'CreateSecret' && op !== 'UpdateSecret') || typeof body.KmsKeyId !== 'string' || body.KmsKeyId === '') return {};
  const arn = await arnOf(body.KmsKeyId);
  return arn === undefined ? {} : { 'secretsmanager:KmsKeyArn': arn };
}

export function secretsRequestKeys(op: string, body: Record<string, unknown>): ConditionContext {
  return Object.hasOwn(REQUEST_KEYS, op) ? REQUEST_KEYS[op]!(body) : {};
}

/**
 * The secret resource's keys: a secret being created has its ARN only (its tags and Type are the
 * request's). A secret created with no Type has no secretsmanager:resource/Type.
 */
export function secretResourceKeys(secret: SecretDoc | { ARN: string }, region: string): ConditionContext {
  return {
    'secretsmanager:SecretId': secret.ARN,
    'secretsmanager:SecretPrimaryRegion': region,
    ...('Tags' in secret ? resourceTagKeys(secret.Tags, ['secretsmanager']) : {}),
    ...('Type' in secret && secret.Type !== undefined && { 'secretsmanager:resource/Type': secret.Type }),
  };
}
