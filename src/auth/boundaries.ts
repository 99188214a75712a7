/**
 * Which policies may be set as a user's or role's permissions boundary: a managed policy, named
 * by its ARN (IAM has no ARN for an inline policy, so one cannot be a boundary): one of AWS's
 * managed policies for ECR Berth keeps (src/iam/managed.ts) or a customer managed policy of the
 * account; any other policy ARN is one that does not exist, refused in IAM's words.
 */
import { IamCodes } from '../core/errors.js';
import { managedPolicy } from '../iam/managed.js';
import { IdentityError } from './identity-admin.js';

const POLICY_ARN = /^arn:aws[\w-]*:iam::(aws|\d{12}):policy\/./;

/** Throws IdentityError unless `arn` names a managed policy Berth has (`exists` tells). */
export async function checkPermissionsBoundary(arn: string, exists: (arn: string) => Promise<boolean>): Promise<void> {
  const quoted = arn.slice(0, 2048);
  if (!POLICY_ARN.test(arn)) throw new IdentityError(IamCodes.InvalidInput, `ARN ${quoted} is not valid.`);
  if (!(await exists(arn))) throw noBoundary(arn);
}

/** IAM's NoSuchEntity for a boundary naming no policy. */
export function noBoundary(arn: string): IdentityError {
  return new IdentityError(IamCodes.NoSuchEntity, `Scope ARN: ${arn.slice(0, 2048)} does not exist or is not attachable.`);
}

/**
 * Writes a boundary checked by checkPermissionsBoundary: removing one or setting one of AWS's as
 * is (`set`); the account's own only if it still exists at that instant (`setCustomer`: the check
 * and the write are one statement, ordered with DeletePolicy's transaction, so a policy deleted
 * meanwhile is refused here rather than left as the boundary of a policy made again under its ARN).
 * `setCustomer` false: the policy is gone, unless `stillThere` (the user's or role's check) throws.
 */
export async function writeBoundary(
  arn: string | null,
  store: { set(): Promise<unknown>; setCustomer(arn: string): Promise<boolean>; stillThere(): Promise<unknown> },
): Promise<void> {
  if (arn === null || managedPolicy(arn) !== undefined) {
    await store.set();
    return;
  }
  if (await store.setCustomer(arn)) return;
  await store.stillThere();
  throw noBoundary(arn);
}
