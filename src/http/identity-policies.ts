/**
 * The identity policies of an IAM user (its groups' too) or of an assumed role's role, parsed,
 * with the user's or role's permissions boundary, as every authorizer (ECR's, KMS's, IAM's, STS's)
 * evaluates them (read in one query: auth/principal-policies.ts). Root and anonymous callers have
 * neither. A principal whose user or role is gone has none; a store failure fails the request
 * rather than judge it without a Deny it may hold.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import type { IdentityPolicies } from '../iam/evaluator.js';

export type { IdentityPolicies };

export async function identityPoliciesOf(identities: IdentityAdmin, principal: Principal): Promise<IdentityPolicies> {
  const role = principal.kind === 'role' ? principal.session?.role : undefined;
  if (role !== undefined) return identities.principalPolicies(principal.accountId, 'role', role.name);
  if (principal.kind === 'user') return identities.principalPolicies(principal.accountId, 'user', principal.userName!);
  return { policies: [] };
}
