/**
 * The key policy of an AWS managed key (`alias/aws/<service>`), which the service sets and no one
 * may change. AWS's for `aws/ecr` ("auto-ecr-1") has two statements: the key's cryptographic use
 * is allowed to every principal of the account, but only through the service
 * (`kms:ViaService` `<service>.<region>.amazonaws.com` and `kms:CallerAccount`); its metadata
 * (Describe*, Get*, List*, RevokeGrant) to the account, whose IAM policies then decide. KMS's
 * guide: an AWS managed key can be used "only in the context of the AWS service that operates
 * it" and only by principals of its account. A key policy is the gate to a key in KMS (what it
 * does not allow, or delegate to the account, IAM policies cannot allow), so the KMS door judges
 * a managed key by this document as a required resource policy (iam/evaluator.ts).
 */
import { rootArn } from '../../auth/principal.js';
import { parsePolicy, type Policy } from '../../iam/policy.js';
import type { KmsKeyRecord } from '../../metadata/types.js';
import { AWS_ALIAS_PREFIX, isAwsManaged } from '../../kms/key-metadata.js';

/** What AWS's managed keys allow only through their service. */
const VIA_SERVICE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey', 'kms:RetireGrant'];
const METADATA_ACTIONS = ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'];

/** The service an AWS managed key belongs to (`ecr` for `alias/aws/ecr`); undefined for a customer key. */
export function managingService(key: KmsKeyRecord): string | undefined {
  return isAwsManaged(key) ? key.alias!.slice(AWS_ALIAS_PREFIX.length) : undefined;
}

/** The managed key's policy as GetKeyPolicy shows it; undefined for a customer key (Berth keeps KMS's default for those). */
export function managedKeyPolicyText(key: KmsKeyRecord): string | undefined {
  const service = managingService(key);
  if (service === undefined) return undefined;
  const policy = {
    Version: '2012-10-17',
    Id: `auto-${service}-1`,
    Statement: [
      {
        Sid: `Allow access through ${service.toUpperCase()} for all principals in the account that are authorized to use ${service.toUpperCase()}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: VIA_SERVICE_ACTIONS,
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': key.accountId, 'kms:ViaService': `${service}.${key.region}.amazonaws.com` } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: rootArn(key.accountId) },
        Action: METADATA_ACTIONS,
        Resource: '*',
      },
    ],
  };
  return JSON.stringify(policy, null, 2);
}

/** The managed key's policy, parsed for the evaluator; undefined for a customer key. */
export function managedKeyPolicy(key: KmsKeyRecord): Policy | undefined {
  const text = managedKeyPolicyText(key);
  return text === undefined ? undefined : parsePolicy(text, { kind: 'resource', maxLength: Number.MAX_SAFE_INTEGER });
}
