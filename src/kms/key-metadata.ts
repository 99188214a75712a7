/**
 * A KMS key as KMS describes it (DescribeKey's KeyMetadata), for `berth admin` output. Berth
 * plays KMS here, so a key whose material Berth generated has KMS's Origin for that, AWS_KMS;
 * the key behind `alias/aws/` is managed by the service (KeyManager AWS), every other is the
 * customer's.
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
