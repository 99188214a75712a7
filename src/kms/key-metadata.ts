/**
 * A KMS key as KMS describes it (DescribeKey's KeyMetadata): for `berth admin` output, and as
 * the KMS API answers (apiKeyMetadata). Berth plays KMS here, so a key whose material Berth
 * generated has KMS's Origin for that, AWS_KMS; the key behind `alias/aws/` is managed by the
 * service (KeyManager AWS), every other is the customer's.
 */
import type { KmsKeyRecord } from '../metadata/types.js';

export interface KeyMetadata {
  AWSAccountId: string;
  KeyId: string;
  Arn: string;
  AliasName?: string;
  Description: string;
  KeyState: 'Enabled' | 'Disabled';
  Enabled: boolean;
  /** ISO 8601, as the AWS CLI prints KMS's timestamps. */
  CreationDate: string;
  KeyManager: 'CUSTOMER' | 'AWS';
  Origin: 'AWS_KMS' | 'EXTERNAL';
  KeyUsage: 'ENCRYPT_DECRYPT';
  KeySpec: 'SYMMETRIC_DEFAULT';
}

/** Aliases under this prefix are the service's own (KMS reserves them). */
export const AWS_ALIAS_PREFIX = 'alias/aws/';

export function isAwsManaged(key: KmsKeyRecord): boolean {
  return key.alias?.startsWith(AWS_ALIAS_PREFIX) ?? false;
}

export function keyMetadata(key: KmsKeyRecord): KeyMetadata {
  return {
    AWSAccountId: key.accountId,
    KeyId: key.id,
    Arn: key.arn,
    ...(key.alias !== undefined && { AliasName: key.alias }),
    Description: key.description,
    KeyState: key.state,
    Enabled: key.state === 'Enabled',
    CreationDate: key.createdAt.toISOString(),
    KeyManager: isAwsManaged(key) ? 'AWS' : 'CUSTOMER',
    Origin: key.origin === 'BERTH' ? 'AWS_KMS' : 'EXTERNAL',
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeySpec: 'SYMMETRIC_DEFAULT',
  };
}

/** KeyMetadata as the KMS API answers it (CreateKey, DescribeKey); CreationDate goes out as epoch seconds. */
export interface ApiKeyMetadata {
  AWSAccountId: string;
  KeyId: string;
  Arn: string;
  CreationDate: Date;
  Enabled: boolean;
  Description: string;
  KeyUsage: 'ENCRYPT_DECRYPT';
  KeyState: 'Enabled' | 'Disabled';
  Origin: 'AWS_KMS';
  KeyManager: 'CUSTOMER' | 'AWS';
  CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT';
  KeySpec: 'SYMMETRIC_DEFAULT';
  EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'];
  MultiRegion: false;
}

/** A Berth key (origin BERTH) as the KMS API describes it: no alias here, ListAliases tells those. */
export function apiKeyMetadata(key: KmsKeyRecord): ApiKeyMetadata {
  return {
    AWSAccountId: key.accountId,
    KeyId: key.id,
    Arn: key.arn,
    CreationDate: key.createdAt,
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.state,
    Origin: 'AWS_KMS',
    KeyManager: isAwsManaged(key) ? 'AWS' : 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}
