/**
 * What a secret's customer managed KMS key asks of the caller. Secrets Manager uses the key "on
 * behalf of the user who is creating or changing the secret value" (its guide, "Secret
 * encryption and decryption"): kms:GenerateDataKey for a new value (CreateSecret with a value,
 * PutSecretValue, UpdateSecret with a value), kms:Decrypt for GetSecretValue, and both when a
 * secret's key is named or changed (the validation calls), each with the encryption context
 * SecretARN and SecretVersionId ("RequestToValidateKeyAccess" for the validation) and
 * kms:ViaService `secretsmanager.<region>.amazonaws.com`. So the KMS door's authorizer judges
 * the caller here, with the condition keys KMS would set.
 *
 * Berth seals every value under its server key whatever the secret names; the key's permissions
 * and state are what this enforces. The AWS managed key (no KmsKeyId, or aws/secretsmanager)
 * asks nothing: its key policy lets every principal of the account use it through Secrets
 * Manager. Another service's AWS managed key (aws/ecr) allows use through that service only.
 * A key the account does not have, or one that is disabled, is EncryptionFailure (writes) or
 * DecryptionFailure (reads), as KMS's failure reaches a Secrets Manager caller.
 */
import type { Principal } from '../../auth/principal.js';
import { SecretsCodes } from '../../core/errors.js';
import { isAwsManaged } from '../../kms/key-metadata.js';
import type { KmsKeyRecord } from '../../metadata/types.js';
import type { RequestOrigin } from '../condition-keys/global.js';
import { kmsKeyResourceKeys, kmsRequestKeys } from '../condition-keys/kms.js';
import { EcrError } from '../ecr/protocol.js';
import { encryptionContextConditions, type KmsAuthzTarget } from '../kms/authz.js';

/** The SecretVersionId of the calls that validate a newly named key. */
export const VALIDATION_VERSION = 'RequestToValidateKeyAccess';

export type KeyOperation = 'GenerateDataKey' | 'Decrypt';

/** Uses the key `keyRef` names (a secret's KmsKeyId) for `op` on the caller's behalf; rejects when KMS would refuse it. */
export type SecretKeyCall = (keyRef: string | undefined, op: KeyOperation, context: { SecretARN: string; SecretVersionId: string }) => Promise<void>;

export interface SecretKeyJudge {
  authorizer: { check(principal: Principal, target: KmsAuthzTarget): Promise<void> };
  /** The key `keyRef` names in the account (id, ARN, alias name or ARN); undefined when it names none. */
  findKey(accountId: string, keyRef: string): Promise<KmsKeyRecord | undefined>;
}

/** No key, or aws/secretsmanager by name or alias ARN: the AWS managed key for Secrets Manager. */
export function isSecretsManagedKey(keyRef: string | undefined): boolean {
  return keyRef === undefined || keyRef === '' || /^(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:)?alias\/aws\/secretsmanager$/.test(keyRef);
}

export function secretKeyUse(
  judge: SecretKeyJudge,
  principal: Principal,
  region: string,
  origin: RequestOrigin,
  onDenied: (action: string, resource: string) => void,
): SecretKeyCall {
  return async (keyRef, op, context) => {
    if (isSecretsManagedKey(keyRef)) return;
    const failure = op === 'Decrypt' ? decryptionFailure : encryptionFailure;
    const key = await judge.findKey(principal.accountId, keyRef!);
    if (!key) throw failure(`the KMS key ${keyRef!.slice(0, 256)} is not a key of this account and region`);
    const action = `kms:${op}`;
    const denied = (message: string) => {
      onDenied(action, key.arn);
      return new EcrError(SecretsCodes.AccessDenied, `Access to KMS is not allowed: ${message}`);
    };
    if (isAwsManaged(key)) throw denied(`${key.arn} is the AWS managed key of another service: its key policy allows its use through that service only`);
    await judge.authorizer
      .check(principal, {
        action,
        resource: key.arn,
        origin,
        region,
        context: {
          ...kmsRequestKeys(op, { KeyId: keyRef }, principal),
          ...kmsKeyResourceKeys(key),
          ...encryptionContextConditions(context),
          'kms:ViaService': `secretsmanager.${region}.amazonaws.com`,
        },
      })
      .catch((e: unknown) => {
        throw e instanceof EcrError && e.type === SecretsCodes.AccessDenied.code ? denied(e.message) : e;
      });
    if (key.state !== 'Enabled') throw failure(`the KMS key ${key.arn} is ${key.state.toLowerCase()}`);
  };
}

const encryptionFailure = (why: string) =>
  new EcrError(SecretsCodes.EncryptionFailure, `Secrets Manager can't encrypt the protected secret text using the provided KMS key: ${why}.`);
const decryptionFailure = (why: string) =>
  new EcrError(SecretsCodes.DecryptionFailure, `Secrets Manager can't decrypt the protected secret text using the provided KMS key: ${why}.`);
