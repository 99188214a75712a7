/**
 * For kms-secrets-model-constraints.test.ts: one request per KMS and Secrets Manager operation
 * Berth serves that satisfies every constraint of the service's model and sets every constrained
 * member (so each can be broken alone), and the state a refused mutating call must leave as it was.
 */
import type { Body, Call } from './suite.js';
import { seedAll } from './suite.js';

/** The seeded key, by the alias the seed gives it. */
const KEY = 'alias/model/checks';
const GRANTS = ['grant-token-1'];
const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
const RECIPIENT = { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: b64(16) };

export const KMS_BODIES: Record<string, Body> = {
  CreateAlias: { AliasName: 'alias/model/new', TargetKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' },
  CreateKey: {
    Policy: '{"Version":"2012-10-17"}',
    Description: 'checks',
    KeyUsage: 'ENCRYPT_DECRYPT',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    Origin: 'AWS_KMS',
    CustomKeyStoreId: 'cks-1234567890abcdef0',
    Tags: [{ TagKey: 'team', TagValue: 'a' }],
    XksKeyId: 'xks-key-1',
  },
  Decrypt: {
    CiphertextBlob: b64(64),
    GrantTokens: GRANTS,
    KeyId: KEY,
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    Recipient: RECIPIENT,
    DryRunModifiers: ['IGNORE_CIPHERTEXT'],
  },
  DeleteAlias: { AliasName: KEY },
  DescribeKey: { KeyId: KEY, GrantTokens: GRANTS },
  DisableKey: { KeyId: KEY },
  EnableKey: { KeyId: KEY },
  Encrypt: { KeyId: KEY, Plaintext: b64(5), GrantTokens: GRANTS, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  GenerateDataKey: { KeyId: KEY, NumberOfBytes: 32, KeySpec: 'AES_256', GrantTokens: GRANTS, Recipient: RECIPIENT },
  GenerateDataKeyWithoutPlaintext: { KeyId: KEY, KeySpec: 'AES_256', NumberOfBytes: 32, GrantTokens: GRANTS },
  GetKeyPolicy: { KeyId: KEY, PolicyName: 'default' },
  GetKeyRotationStatus: { KeyId: KEY },
  ListAliases: { KeyId: KEY, Limit: 10, Marker: 'marker' },
  ListKeys: { Limit: 10, Marker: 'marker' },
  ListResourceTags: { KeyId: KEY, Limit: 10, Marker: 'marker' },
};

/** A key, and the alias the bodies name it by. */
export async function kmsSeed(call: Call): Promise<void> {
  const [created] = await seedAll(call, [['CreateKey', { Description: 'checks' }]]);
  const id = (JSON.parse(created!.text) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
  await seedAll(call, [['CreateAlias', { AliasName: KEY, TargetKeyId: id }]]);
}

export const KMS_READS: ReadonlyArray<[string, Body]> = [
  ['ListKeys', {}],
  ['ListAliases', {}],
  ['DescribeKey', { KeyId: KEY }],
];

export const KMS_MUTATING = /^(?:Create|Delete|Enable|Disable)/;

const SECRET = 'model/checks';
const TOKEN = '0a1b2c3d-0000-4000-8000-00000000abcd';
const TAGS = [{ Key: 'team', Value: 'a' }];

export const SECRETS_BODIES: Record<string, Body> = {
  CreateSecret: {
    Name: 'model/new',
    ClientRequestToken: TOKEN,
    Description: 'checks',
    KmsKeyId: 'alias/aws/secretsmanager',
    SecretBinary: b64(8),
    SecretString: 'value',
    Tags: TAGS,
    AddReplicaRegions: [{ Region: 'us-west-2', KmsKeyId: 'alias/aws/secretsmanager' }],
    Type: 'text',
  },
  DeleteSecret: { SecretId: SECRET },
  DescribeSecret: { SecretId: SECRET },
  GetSecretValue: { SecretId: SECRET, VersionId: TOKEN, VersionStage: 'AWSCURRENT' },
  ListSecrets: { MaxResults: 10, NextToken: 'bW9kZWw', Filters: [{ Key: 'name', Values: ['model'] }], SortOrder: 'asc', SortBy: 'name' },
  PutSecretValue: {
    SecretId: SECRET,
    ClientRequestToken: TOKEN,
    SecretBinary: b64(8),
    SecretString: 'value',
    VersionStages: ['AWSCURRENT'],
    RotationToken: 'a'.repeat(36),
  },
  TagResource: { SecretId: SECRET, Tags: TAGS },
  UntagResource: { SecretId: SECRET, TagKeys: ['team'] },
  UpdateSecret: {
    SecretId: SECRET,
    ClientRequestToken: TOKEN,
    Description: 'checks',
    KmsKeyId: 'alias/aws/secretsmanager',
    SecretBinary: b64(8),
    SecretString: 'value',
    Type: 'text',
  },
};

export const SECRETS_SEED: ReadonlyArray<[string, Body]> = [['CreateSecret', { Name: SECRET, SecretString: 'v1', Tags: TAGS }]];

export const SECRETS_READS: ReadonlyArray<[string, Body]> = [
  ['ListSecrets', { IncludePlannedDeletion: true }],
  ['DescribeSecret', { SecretId: SECRET }],
];

export const SECRETS_MUTATING = /^(?:Create|Delete|Put|Tag|Untag|Update)/;
