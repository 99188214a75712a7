/**
 * Every constraint KMS's and Secrets Manager's service models declare on the input of an
 * operation Berth serves (test/api/model/{kms,secrets}-model-constraints.ts, generated from
 * botocore's service-2.json), refused as those services refuse them: the suite is
 * test/api/model/suite.ts. Neither quotes the refused value, as it may be a secret or plaintext.
 */
import { KMS_ACTIONS } from '../../src/http/kms/router.js';
import { KMS_TARGET_PREFIX } from '../../src/http/kms/protocol.js';
import { ACTIONS as SECRETS_ACTIONS } from '../../src/http/secrets/actions.js';
import { SECRETS_TARGET_PREFIX } from '../../src/http/secrets/router.js';
import { KMS_MODEL_CONSTRAINTS, OPERATIONS as KMS_OPERATIONS } from './model/kms-model-constraints.js';
import { SECRETS_MODEL_CONSTRAINTS, OPERATIONS as SECRETS_OPERATIONS } from './model/secrets-model-constraints.js';
import { KMS_BODIES, KMS_MUTATING, KMS_READS, kmsSeed, SECRETS_BODIES, SECRETS_MUTATING, SECRETS_READS, SECRETS_SEED } from './model/kms-secrets-requests.js';
import { lowerFirstMembers, modelConstraintSuite } from './model/suite.js';

modelConstraintSuite({
  title: 'KMS',
  api: { actions: KMS_ACTIONS, service: 'kms', targetPrefix: KMS_TARGET_PREFIX },
  constraints: KMS_MODEL_CONSTRAINTS,
  operations: KMS_OPERATIONS,
  minOperations: 15,
  bodies: KMS_BODIES,
  mutating: KMS_MUTATING,
  seed: kmsSeed,
  reads: KMS_READS,
  quotesValue: false,
  memberName: lowerFirstMembers,
});

modelConstraintSuite({
  title: 'Secrets Manager',
  api: { actions: SECRETS_ACTIONS, service: 'secretsmanager', targetPrefix: SECRETS_TARGET_PREFIX },
  constraints: SECRETS_MODEL_CONSTRAINTS,
  operations: SECRETS_OPERATIONS,
  minOperations: 8,
  bodies: SECRETS_BODIES,
  mutating: SECRETS_MUTATING,
  seed: SECRETS_SEED,
  reads: SECRETS_READS,
  quotesValue: false,
  memberName: lowerFirstMembers,
});
