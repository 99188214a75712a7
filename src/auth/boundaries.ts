/**
 * Which policies may be set as a user's or role's permissions boundary: a managed policy, named
 * by its ARN (IAM has no ARN for an inline policy, so one cannot be a boundary): one of AWS's
 * managed policies for ECR Berth keeps (src/iam/managed.ts) or a customer managed policy of the
 * account; any other policy ARN is one that does not exist, refused in IAM's words.
 */
import { IamCodes } from '../core/errors.js';
import { IdentityError } from './identity-admin.js';

const POLICY_ARN = /^arn:aws[\w-]*:iam::(aws|\d{12}):policy\/./;

/** Throws IdentityError unless `arn` names a managed policy Berth has (`exists` tells). */
export async function checkPermissionsBoundary(arn: string, exists: (arn: string) => Promise<boolean>): Promise<void> {
  const quoted = arn.slice(0, 2048);
  if (!POLICY_ARN.test(arn)) throw new IdentityError(IamCodes.InvalidInput, `ARN ${quoted} is not valid.`);
  if (!(await exists(arn))) throw new IdentityError(IamCodes.NoSuchEntity, `Scope ARN: ${quoted} does not exist or is not attachable.`);
}
