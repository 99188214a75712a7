/**
 * AWS's words for an AccessDenied, naming the type of policy that denied or failed to allow, as
 * AWS's services have written them since 2021 (IAM User Guide, "Access denied error messages"):
 * `User: <arn> is not authorized to perform: <action> on resource: <resource> because no
 * identity-based policy allows the <action> action`, or `... with an explicit deny in a
 * permissions boundary`. One place for every door that refuses (ECR and /v2, KMS, IAM, STS).
 */

/** The policy types Berth evaluates, as AWS's messages name them. */
export type PolicyType = 'identity-based policy' | 'resource-based policy' | 'permissions boundary' | 'session policy';

export interface Denial {
  explicitDeny: boolean;
  policyType: PolicyType;
}

const ARTICLE: Record<PolicyType, string> = {
  'identity-based policy': 'an',
  'resource-based policy': 'a',
  'permissions boundary': 'a',
  'session policy': 'a',
};

export function deniedMessage(principalArn: string, action: string, resource: string, why: Denial): string {
  const reason = why.explicitDeny
    ? `with an explicit deny in ${ARTICLE[why.policyType]} ${why.policyType}`
    : `because no ${why.policyType} allows the ${action} action`;
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
}

/**
 * STS's refusal of AssumeRole (and of the sts:TagSession it checks): AWS's STS names no policy
 * type, and answers a role that does not exist in the same words, so a caller learns neither
 * whether a role exists nor whether its trust policy or the caller's own policies refused.
 */
export function assumeRoleDeniedMessage(principalArn: string, action: string, roleArn: string): string {
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${roleArn}`;
}

/** STS's refusal of AssumeRoleWithWebIdentity, in AWS's words: it names neither the token's subject nor the role. */
export const WEB_IDENTITY_DENIED_MESSAGE = 'Not authorized to perform sts:AssumeRoleWithWebIdentity';
