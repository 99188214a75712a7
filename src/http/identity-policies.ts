/**
 * The identity policies of an IAM user (its groups' too) or of an assumed role's role, parsed,
 * with the user's or role's permissions boundary, as every authorizer (ECR's, KMS's, IAM's, STS's)
 * evaluates them (read in one query: auth/principal-policies.ts). Root and anonymous callers have
 * neither. A principal whose user or role is gone has none; a store failure fails the request
 * rather than judge it without a Deny it may hold.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import type { IdentityPolicies as Evaluated } from '../iam/evaluator.js';

/** What the evaluator needs of an identity, and an IAM user's unique id (aws:userid), read with them. */
export interface IdentityPolicies extends Evaluated {
  userId?: string;
}

export async function identityPoliciesOf(identities: IdentityAdmin, principal: Principal): Promise<IdentityPolicies> {
  const role = principal.kind === 'role' ? principal.session?.role : undefined;
  if (role !== undefined) return identities.principalPolicies(principal.accountId, 'role', role.name);
  if (principal.kind !== 'user') return { policies: [] };
  const name = principal.userName!;
  const [policies, user] = await Promise.all([
    identities.principalPolicies(principal.accountId, 'user', name),
    identities.userRecord(principal.accountId, name),
  ]);
  // The unique id of the user the credentials name exactly (a lookup finds a name in any case).
  return user?.name === name ? { ...policies, userId: user.userId } : policies;
}
