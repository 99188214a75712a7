/**
 * The Secrets Manager actions Berth serves: CreateSecret, GetSecretValue, PutSecretValue,
 * UpdateSecret, DescribeSecret, ListSecrets, DeleteSecret, TagResource, UntagResource. Each validates its body
 * against the model, authorizes `secretsmanager:<Op>` on the secret's ARN ("*" for ListSecrets)
 * and calls the domain (secrets/secrets.ts). Values are never quoted back in errors.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SecretsCodes } from '../../core/errors.js';
import type { NewValue, SecretDoc, SecretsScope, SecretsService } from '../../secrets/secrets.js';
import { EcrError } from '../ecr/protocol.js';
import { blob, integer, list, oneOf, patterned, rule, text } from '../model/constraints.js';
import { parseJsonInput } from '../model/json.js';
import { VALIDATION_VERSION, type SecretKeyCall } from './key-use.js';

export interface SecretsCall {
  secrets: SecretsService;
  body: Record<string, unknown>;
  scope: SecretsScope;
  /**
   * Authorizes this operation (`secretsmanager:<Op>`) on `resource`: a secret (its ARN, whose
   * condition keys the context gets), a new secret's ARN, or "*"; rejects with AccessDeniedException.
   */
  authorize(resource: string | SecretDoc): Promise<void>;
  /** Uses a secret's KMS key on the caller's behalf (key-use.ts); rejects as KMS's refusal reaches Secrets Manager's caller. */
  callKms: SecretKeyCall;
}

/** Naming a key, or another one, is validated with both operations Secrets Manager will ask of it. */
async function validateKey(call: SecretsCall, keyRef: string, SecretARN: string): Promise<void> {
  const context = { SecretARN, SecretVersionId: VALIDATION_VERSION };
  await call.callKms(keyRef, 'GenerateDataKey', context);
  await call.callKms(keyRef, 'Decrypt', context);
}

export type SecretsAction = (call: SecretsCall) => Promise<unknown>;

const parse = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> =>
  parseJsonInput(schema, body, (kind, message) => new EcrError(kind === 'validation' ? SecretsCodes.Validation : SecretsCodes.Serialization, message));
const invalid = (message: string) => new EcrError(SecretsCodes.InvalidParameter, message);

const NAME = /^[A-Za-z0-9/_+=.@-]+$/;
/** The model bounds only a name's length; its characters are Secrets Manager's rule, in its own words. */
const secretName = rule(
  text(1, 512),
  (name) => NAME.test(name),
  'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
  true,
);
const secretId = text(1, 2048);
const token = text(32, 64).optional();
/** The model bounds no list of tags; 50 is Secrets Manager's quota of tags on a secret. */
const tags = list(z.object({ Key: text(1, 128), Value: text(0, 256) }), 0, 50);
const VALUE_MAX = 65_536;

/** One of SecretString and SecretBinary (base64 on the wire), within Secrets Manager's 64 KiB. */
function newValueOf(input: { SecretString?: string | undefined; SecretBinary?: string | undefined }, required: boolean): NewValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw invalid('You can\u2019t specify both a binary secret value and a string secret value in the same secret.');
  }
  if (input.SecretString !== undefined) return { string: input.SecretString };
  if (input.SecretBinary !== undefined) return { binary: input.SecretBinary };
  if (required) throw invalid('You must provide either SecretString or SecretBinary.');
  return undefined;
}

const valueFields = { SecretString: text(1, VALUE_MAX).optional(), SecretBinary: blob(1, VALUE_MAX).optional() };
/** What CreateSecret sets and UpdateSecret changes besides the value (a Type only where the secret has none). */
const detailFields = { ClientRequestToken: token, Description: text(0, 2048).optional(), KmsKeyId: text(0, 2048).optional(), Type: text(0, 256).optional() };

const CreateSecret: SecretsAction = async (call) => {
  const input = parse(
    z.object({
      Name: secretName,
      Tags: tags.optional(),
      AddReplicaRegions: list(z.object({ Region: patterned(1, 128, '^([a-z]+-)+\\d+$').optional(), KmsKeyId: text(0, 2048).optional() }), 1).optional(),
      ...detailFields,
      ...valueFields,
    }),
    call.body,
  );
  if (input.AddReplicaRegions !== undefined) throw invalid("Berth's Secrets Manager does not replicate secrets.");
  const value = newValueOf(input, false);
  const arn = call.secrets.newArn(call.scope, input.Name);
  await call.authorize(arn);
  const versionId = input.ClientRequestToken ?? randomUUID();
  if (input.KmsKeyId !== undefined) await validateKey(call, input.KmsKeyId, arn);
  if (value) await call.callKms(input.KmsKeyId, 'GenerateDataKey', { SecretARN: arn, SecretVersionId: versionId });
  return call.secrets.create(call.scope, {
    name: input.Name,
    arn,
    tags: input.Tags ?? [],
    ...(input.Description !== undefined && { description: input.Description }),
    ...(input.KmsKeyId !== undefined && { kmsKeyId: input.KmsKeyId }),
    ...(input.Type !== undefined && input.Type !== '' && { type: input.Type }),
    ...(value && { value, versionId }),
  });
};

const GetSecretValue: SecretsAction = async (call) => {
  const input = parse(z.object({ SecretId: secretId, VersionId: token, VersionStage: text(1, 256).optional() }), call.body);
  await call.authorize(await call.secrets.describe(call.scope, input.SecretId));
  return call.secrets.getValue(
    call.scope,
    input.SecretId,
    {
      ...(input.VersionId !== undefined && { versionId: input.VersionId }),
      ...(input.VersionStage !== undefined && { stage: input.VersionStage }),
    },
    (doc, versionId) => call.callKms(doc.KmsKeyId, 'Decrypt', { SecretARN: doc.ARN, SecretVersionId: versionId }),
  );
};

const PutSecretValue: SecretsAction = async (call) => {
  const input = parse(
    z.object({
      SecretId: secretId,
      ClientRequestToken: token,
      VersionStages: list(text(1, 256), 1, 20).optional(),
      RotationToken: patterned(36, 256, '^[a-zA-Z0-9\\-]+$').optional(),
      ...valueFields,
    }),
    call.body,
  );
  if (input.VersionStages !== undefined && (input.VersionStages.length !== 1 || input.VersionStages[0] !== 'AWSCURRENT')) {
    throw invalid('Berth keeps the staging labels AWSCURRENT and AWSPREVIOUS only.');
  }
  const value = newValueOf(input, true)!;
  const secret = await call.secrets.describe(call.scope, input.SecretId);
  await call.authorize(secret);
  const versionId = input.ClientRequestToken ?? randomUUID();
  await call.callKms(secret.KmsKeyId, 'GenerateDataKey', { SecretARN: secret.ARN, SecretVersionId: versionId });
  return call.secrets.putValue(call.scope, input.SecretId, value, versionId);
};

const UpdateSecret: SecretsAction = async (call) => {
  const input = parse(z.object({ SecretId: secretId, ...detailFields, ...valueFields }), call.body);
  const value = newValueOf(input, false);
  const secret = await call.secrets.describe(call.scope, input.SecretId);
  await call.authorize(secret);
  const versionId = input.ClientRequestToken ?? randomUUID();
  if (input.KmsKeyId !== undefined && input.KmsKeyId !== secret.KmsKeyId) await validateKey(call, input.KmsKeyId, secret.ARN);
  if (value) await call.callKms(input.KmsKeyId ?? secret.KmsKeyId, 'GenerateDataKey', { SecretARN: secret.ARN, SecretVersionId: versionId });
  return call.secrets.update(call.scope, input.SecretId, {
    ...(input.Type !== undefined && { type: input.Type }),
    ...(input.Description !== undefined && { description: input.Description }),
    ...(input.KmsKeyId !== undefined && { kmsKeyId: input.KmsKeyId }),
    ...(value && { value, versionId }),
  });
};

const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

function describeShape(doc: SecretDoc, versionsKey: 'VersionIdsToStages' | 'SecretVersionsToStages') {
  return {
    ARN: doc.ARN,
    Name: doc.Name,
    ...(doc.Description !== undefined && { Description: doc.Description }),
    ...(doc.KmsKeyId !== undefined && { KmsKeyId: doc.KmsKeyId }),
    ...(doc.Type !== undefined && { Type: doc.Type }),
    LastChangedDate: at(doc.changed),
    ...(doc.accessed !== undefined && { LastAccessedDate: at(doc.accessed) }),
    ...(doc.deletedAt !== undefined && { DeletedDate: at(doc.deletedAt) }),
    ...(doc.Tags.length > 0 && { Tags: doc.Tags }),
    [versionsKey]: Object.fromEntries(doc.versions.map((v) => [v.id, v.stages])),
    CreatedDate: at(doc.created),
  };
}

const DescribeSecret: SecretsAction = async (call) => {
  const input = parse(z.object({ SecretId: secretId }), call.body);
  const doc = await call.secrets.describe(call.scope, input.SecretId);
  await call.authorize(doc);
  return describeShape(doc, 'VersionIdsToStages');
};

/** A filter value: an optional `!` (negation), then what the model allows. */
const FILTER_VALUE = '^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$';
const FILTER_KEYS = ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'] as const;

/** ListSecrets' filters: each key's values are alternatives (prefix matches; `!` negates), all keys must match. */
function matcher(filters: Array<{ Key: (typeof FILTER_KEYS)[number]; Values: string[] }>): (doc: SecretDoc) => boolean {
  const fields = (doc: SecretDoc, key: (typeof FILTER_KEYS)[number]): string[] => {
    if (key === 'name') return [doc.Name];
    if (key === 'description') return doc.Description === undefined ? [] : [doc.Description];
    if (key === 'tag-key') return doc.Tags.map((t) => t.Key);
    if (key === 'tag-value') return doc.Tags.map((t) => t.Value);
    if (key === 'all') return [doc.Name, doc.Description ?? '', ...doc.Tags.flatMap((t) => [t.Key, t.Value])];
    return [];
  };
  return (doc) =>
    filters.every((f) =>
      f.Values.some((v) => {
        const negate = v.startsWith('!');
        const want = (negate ? v.slice(1) : v).toLowerCase();
        const hit = fields(doc, f.Key).some((x) => x.toLowerCase().startsWith(want));
        return negate ? !hit : hit;
      }),
    );
}

const ListSecrets: SecretsAction = async (call) => {
  const input = parse(
    z.object({
      IncludePlannedDeletion: z.boolean().optional(),
      MaxResults: integer(1, 100).optional(),
      NextToken: text(1, 4096).optional(),
      Filters: list(z.object({ Key: oneOf(FILTER_KEYS), Values: list(patterned(0, 512, FILTER_VALUE), 1, 10) }), 0, 10).optional(),
      SortOrder: oneOf(['asc', 'desc']).optional(),
      SortBy: oneOf(['created-date', 'last-accessed-date', 'last-changed-date', 'name']).optional(),
    }),
    call.body,
  );
  if ((input.SortOrder !== undefined && input.SortOrder !== 'asc') || (input.SortBy !== undefined && input.SortBy !== 'name')) {
    throw invalid('Berth lists secrets by name, ascending.');
  }
  let after: string | undefined;
  if (input.NextToken !== undefined) {
    after = Buffer.from(input.NextToken, 'base64url').toString('utf8');
    if (after.length === 0) throw new EcrError(SecretsCodes.InvalidNextToken, 'The NextToken value is invalid.');
  }
  await call.authorize('*');
  const page = await call.secrets.list(call.scope, {
    limit: input.MaxResults ?? 100,
    includeDeleted: input.IncludePlannedDeletion ?? false,
    match: matcher(input.Filters ?? []),
    ...(after !== undefined && { after }),
  });
  return {
    SecretList: page.items.map((d) => describeShape(d, 'SecretVersionsToStages')),
    ...(page.last !== undefined && { NextToken: Buffer.from(page.last, 'utf8').toString('base64url') }),
  };
};

const DeleteSecret: SecretsAction = async (call) => {
  const input = parse(
    z.object({ SecretId: secretId, RecoveryWindowInDays: z.number().int().optional(), ForceDeleteWithoutRecovery: z.boolean().optional() }),
    call.body,
  );
  const force = input.ForceDeleteWithoutRecovery ?? false;
  if (force && input.RecoveryWindowInDays !== undefined) {
    throw invalid('You can\u2019t use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.');
  }
  if (input.RecoveryWindowInDays !== undefined && (input.RecoveryWindowInDays < 7 || input.RecoveryWindowInDays > 30)) {
    throw invalid('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
  }
  await call.authorize(await call.secrets.describe(call.scope, input.SecretId));
  return call.secrets.delete(call.scope, input.SecretId, {
    force,
    ...(input.RecoveryWindowInDays !== undefined && { recoveryDays: input.RecoveryWindowInDays }),
  });
};

const TagResource: SecretsAction = async (call) => {
  const input = parse(z.object({ SecretId: secretId, Tags: tags }), call.body);
  await call.authorize(await call.secrets.describe(call.scope, input.SecretId));
  await call.secrets.tag(call.scope, input.SecretId, input.Tags);
  return {};
};

const UntagResource: SecretsAction = async (call) => {
  const input = parse(z.object({ SecretId: secretId, TagKeys: list(text(1, 128), 0, 50) }), call.body);
  await call.authorize(await call.secrets.describe(call.scope, input.SecretId));
  await call.secrets.untag(call.scope, input.SecretId, input.TagKeys);
  return {};
};

export const ACTIONS: Record<string, SecretsAction> = {
  CreateSecret,
  GetSecretValue,
  PutSecretValue,
  UpdateSecret,
  DescribeSecret,
  ListSecrets,
  DeleteSecret,
  TagResource,
  UntagResource,
};
