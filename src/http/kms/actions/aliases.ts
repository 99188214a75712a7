/**
 * CreateAlias, DeleteAlias, ListAliases. As in KMS, creating or deleting an alias is
 * authorized on both the alias's ARN and its key's; aliases under `alias/aws/` are the
 * service's. Berth keeps one alias per key (see KmsKeys.createAlias).
 */
import { z } from 'zod';
import { aliasArn, checkAliasName } from '../../../kms/key-refs.js';
import type { KmsAction } from '../context.js';
import { keyId, limit, marker, parseKmsInput, patterned, rule } from '../input.js';

const aliasName = patterned(1, 256, '^[a-zA-Z0-9:/_-]+$');
/** KMS takes an alias's target as a key id or key ARN only: an alias may move, a key may not. */
const targetKeyId = rule(
  keyId,
  (id) => !id.startsWith('alias/') && !/^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(id),
  'Member must be a key ID or key ARN, not an alias',
);

export const CreateAlias: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ AliasName: aliasName, TargetKeyId: targetKeyId }), call.body);
  checkAliasName(input.AliasName);
  const key = await call.kms.keys.describe(call.accountId, call.region, input.TargetKeyId);
  await call.authorize(aliasArn(call.region, call.accountId, input.AliasName));
  await call.authorize(key);
  await call.kms.keys.createAlias(call.accountId, call.region, input.AliasName, key.id);
  return {};
};

export const DeleteAlias: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ AliasName: aliasName }), call.body);
  checkAliasName(input.AliasName);
  const key = await call.kms.keys.describe(call.accountId, call.region, input.AliasName);
  await call.authorize(aliasArn(call.region, call.accountId, input.AliasName));
  await call.authorize(key);
  await call.kms.keys.deleteAlias(call.accountId, call.region, input.AliasName);
  return {};
};

export const ListAliases: KmsAction = async (call) => {
  const input = parseKmsInput(z.object({ KeyId: keyId.optional(), Limit: limit, Marker: marker }), call.body);
  await call.authorize('*');
  const key = input.KeyId === undefined ? undefined : await call.kms.keys.describe(call.accountId, call.region, input.KeyId);
  const page = await call.kms.listAliases(call.accountId, call.region, {
    limit: input.Limit ?? 50,
    ...(key && { keyId: key.id }),
    ...(input.Marker !== undefined && { marker: input.Marker }),
  });
  return {
    Aliases: page.items,
    Truncated: page.nextMarker !== undefined,
    ...(page.nextMarker !== undefined && { NextMarker: page.nextMarker }),
  };
};
