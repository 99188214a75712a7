/** The policy checks the IAM Query API and `berth admin` need, answered by src/iam. */
import { IamCodes } from '../core/errors.js';
import { QueryError } from '../http/iam/query.js';
import { managedPolicy } from '../iam/managed.js';
import { parsePolicy, PolicyError } from '../iam/policy.js';

/** IAM's limit on an inline user policy. */
const MAX_INLINE_POLICY = 2048 * 3;

export function isManagedPolicy(arn: string): boolean {
  return managedPolicy(arn) !== undefined;
}

export function checkIdentityPolicy(document: string): void {
  try {
    parsePolicy(document, { kind: 'identity', maxLength: MAX_INLINE_POLICY });
  } catch (e) {
    if (e instanceof PolicyError) throw new QueryError(IamCodes.MalformedPolicyDocument, e.message);
    throw e;
  }
}
