/**
 * Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext over Berth's ciphertext
 * format (src/kms/ciphertext.ts). The key is found first (NotFoundException), the caller
 * authorized on it with the encryption context as condition keys, and only then is its state
 * judged (DisabledException), as KMS does. DryRun stops after authorization.
 */
import { z } from 'zod';
import { KmsCodes } from '../../../core/errors.js';
import type { KmsKeyRecord } from '../../../metadata/types.js';
import { encryptionContextConditions } from '../authz.js';
import type { KmsCall, KmsAction } from '../context.js';
import { dryRun, encryptionAlgorithm, encryptionContext, grantTokens, integer, keyId, oneOf, parseKmsInput, recipient, rule } from '../input.js';
import { blobBytes, list } from '../../model/constraints.js';
import { kmsWireError } from '../protocol.js';

/** KMS's limits: Encrypt takes up to 4 KiB; its ciphertexts are at most 6 KiB. */
const MAX_PLAINTEXT = 4096;
const MAX_CIPHERTEXT = 6144;
const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';

const common = {
  EncryptionContext: encryptionContext,
  GrantTokens: grantTokens,
  DryRun: dryRun,
};

/** Authorizes the call on `key` with its context; a dry run ends here, as it would have succeeded. */
async function authorizeUse(call: KmsCall, key: KmsKeyRecord, input: { EncryptionContext?: Record<string, string> | undefined; DryRun?: boolean | undefined }) {
  await call.authorize(key, encryptionContextConditions(input.EncryptionContext));
  if (input.DryRun) throw kmsWireError(KmsCodes.DryRunOperation, 'The request would have succeeded, but the DryRun option is set.');
}

/** An algorithm of KMS's model that Berth's keys, all symmetric, can use. */
const symmetricAlgorithm = rule(
  encryptionAlgorithm.unwrap(),
  (a) => a === SYMMETRIC_DEFAULT,
  `Berth's keys are symmetric: Member must be ${SYMMETRIC_DEFAULT}`,
).optional();

const EncryptInput = z.object({ KeyId: keyId, Plaintext: blobBytes(1, MAX_PLAINTEXT), EncryptionAlgorithm: symmetricAlgorithm, ...common });

export const Encrypt: KmsAction = async (call) => {
  const input = parseKmsInput(EncryptInput, call.body);
  const plaintext = input.Plaintext;
  const key = await call.kms.keys.describe(call.accountId, call.region, input.KeyId);
  await authorizeUse(call, key, input);
  const ciphertext = await call.kms.encrypt(key, plaintext, input.EncryptionContext ?? {});
  return { CiphertextBlob: ciphertext, KeyId: key.arn, EncryptionAlgorithm: SYMMETRIC_DEFAULT };
};

const DecryptInput = z.object({
  CiphertextBlob: blobBytes(1, MAX_CIPHERTEXT),
  KeyId: keyId.optional(),
  EncryptionAlgorithm: symmetricAlgorithm,
  Recipient: recipient,
  DryRunModifiers: list(oneOf(['IGNORE_CIPHERTEXT']), 0).optional(),
  ...common,
});

export const Decrypt: KmsAction = async (call) => {
  const input = parseKmsInput(DecryptInput, call.body);
  const ciphertext = input.CiphertextBlob;
  if (input.Recipient !== undefined) throw kmsWireError(KmsCodes.UnsupportedOperation, "Berth's KMS does not support Recipient (Nitro Enclaves attestation)");
  const key = await call.kms.keyOfCiphertext(call.accountId, call.region, ciphertext, input.KeyId);
  await authorizeUse(call, key, input);
  const plaintext = await call.kms.decrypt(key, ciphertext, input.EncryptionContext ?? {});
  return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: SYMMETRIC_DEFAULT };
};

const DataKeyInput = z.object({
  KeyId: keyId,
  KeySpec: oneOf(['AES_256', 'AES_128']).optional(),
  NumberOfBytes: integer(1, 1024).optional(),
  Recipient: recipient,
  ...common,
});

async function dataKey(call: KmsCall) {
  const input = parseKmsInput(DataKeyInput, call.body);
  if ((input.KeySpec === undefined) === (input.NumberOfBytes === undefined)) {
    throw kmsWireError(KmsCodes.Validation, 'Please specify either number of bytes or key spec.');
  }
  if (input.Recipient !== undefined) throw kmsWireError(KmsCodes.UnsupportedOperation, "Berth's KMS does not support Recipient (Nitro Enclaves attestation)");
  const bytes = input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32);
  const key = await call.kms.keys.describe(call.accountId, call.region, input.KeyId);
  await authorizeUse(call, key, input);
  return { key, ...(await call.kms.generateDataKey(key, bytes, input.EncryptionContext ?? {})) };
}

export const GenerateDataKey: KmsAction = async (call) => {
  const { key, plaintext, ciphertext } = await dataKey(call);
  return { CiphertextBlob: ciphertext, Plaintext: plaintext, KeyId: key.arn };
};

export const GenerateDataKeyWithoutPlaintext: KmsAction = async (call) => {
  const { key, ciphertext } = await dataKey(call);
  return { CiphertextBlob: ciphertext, KeyId: key.arn };
};
