/**
 * The identity policies of an IAM user (its groups' too) or of an assumed role's role, parsed,
 * with the user's or role's permissions boundary, as every authorizer (ECR's, KMS's, IAM's, STS's)
 * evaluates them.
 * Root and anonymous callers have neither.
 */
import { IdentityError, type IdentityAdmin } from '../auth/identity-admin.js';
import { IamCodes } from '../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { IdentityPolicies as Evaluated } from '../iam/evaluator.js';
import { parsePolicy, type Policy } from '../iam/policy.js';
import type { UserPolicyRecord } from '../metadata/identities.js';

/** What the evaluator needs of an identity, and an IAM user's unique id (aws:userid), read with them. */
export interface IdentityPolicies extends Evaluated {
  userId?: string;
}

export async function identityPoliciesOf(identities: IdentityAdmin, principal: Principal): Promise<IdentityPolicies> {
  const role = principal.kind === 'role' ? principal.session?.role : undefined;
  if (principal.kind !== 'user' && role === undefined) return { policies: [] };
  const [records, entity] =
    role !== undefined
      ? await Promise.all([
          identities.roles?.rolePolicies(principal.accountId, role.name).catch(noneIfGone) ?? [],
          identities.roles?.roleRecord(principal.accountId, role.name),
        ])
      : await Promise.all([
          userAndGroupPolicies(identities, principal.accountId, principal.userName!),
          identities.userRecord(principal.accountId, principal.userName!),
        ]);
  const policies: Policy[] = [];
  for (const r of records) {
    if (r.kind === 'managed') {
      // A customer policy's default version as of now: a new default is read once the caches drop this.
      const p = await identities.managedPolicy(principal.accountId, r.name);
      if (p) policies.push(p);
    } else if (r.document !== undefined) {
      // Documents were validated when stored (older ones less strictly, hence lenient); one that
      // no longer parses grants nothing.
      try {
        policies.push(parsePolicy(r.document, { kind: 'identity', maxLength: 1_000_000, lenient: true }));
      } catch {}
    }
  }
  const userId = entity !== undefined && 'userId' in entity ? { userId: entity.userId } : {};
  const arn = entity?.permissionsBoundary;
  if (arn === undefined) return { policies, ...userId };
  // A boundary was a managed policy Berth has when it was set; one it no longer has allows nothing.
  return { policies, ...userId, boundary: (await identities.managedPolicy(principal.accountId, arn)) ?? { statements: [] } };
}

/** A user's own policies, then its groups' (a group's policies are each member's identity policies). */
async function userAndGroupPolicies(identities: IdentityAdmin, accountId: string, userName: string): Promise<UserPolicyRecord[]> {
  const own = await identities.userPolicies(accountId, userName);
  const groups = (await identities.groups?.groupsOfUser(accountId, userName)) ?? [];
  const theirs = await Promise.all(groups.map((g) => identities.groups!.groupPolicies(accountId, g.name).catch(noneIfGone)));
  return [...own, ...theirs.flat()];
}

/**
 * A role or group deleted between two reads has no policies; any other failure (the store's) is
 * thrown, so the request fails rather than being judged without a Deny it may hold.
 */
function noneIfGone(err: unknown): never[] {
  if (err instanceof IdentityError && err.code === IamCodes.NoSuchEntity) return [];
  throw err;
}
