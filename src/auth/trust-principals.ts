/**
 * A role trust policy's users and roles bound to their unique ids when it is saved
 * (iam/principal-bindings.ts has the rule); an ARN naming nobody is IAM's MalformedPolicyDocument.
 */
import { IamCodes } from '../core/errors.js';
import { bindPrincipals, type EntityIdLookup } from '../iam/principal-bindings.js';
import type { Policy } from '../iam/policy.js';
import { IdentityError } from './identity-admin.js';

export function bindTrustPrincipals(policy: Policy, idOf: EntityIdLookup): Promise<Record<string, string>> {
  return bindPrincipals(policy, idOf, { invalid: (message) => new IdentityError(IamCodes.MalformedPolicyDocument, message) });
}
