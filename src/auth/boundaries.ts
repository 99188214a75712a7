/**
 * Which policies may be set as a user's or role's permissions boundary: a managed policy, named
 * by its ARN (IAM has no ARN for an inline policy, so one cannot be a boundary). Berth keeps
 * AWS's managed policies for ECR only (src/iam/managed.ts), so any other policy ARN is one that
 * does not exist, refused in IAM's words.
 */
import { IamCodes } from '../core/errors.js';
import { managedPolicy } from '../iam/managed.js';
import { IdentityError } from './identity-admin.js';

const POLICY_ARN = /^arn:aws[\w-]*:iam::(aws|\d{12}):policy\/./;

/** Throws IdentityError unless `arn` names a managed policy Berth has. */
export function checkPermissionsBoundary(arn: string): void {
  const quoted = arn.slice(0, 2048);
  if (!POLICY_ARN.test(arn)) throw new IdentityError(IamCodes.InvalidInput, `ARN ${quoted} is not valid.`);
  if (managedPolicy(arn) === undefined) throw new IdentityError(IamCodes.NoSuchEntity, `Scope ARN: ${quoted} does not exist or is not attachable.`);
}
