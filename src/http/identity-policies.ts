/**
 * The identity policies of an IAM user or of an assumed role's role, parsed, as both authorizers
 * (ECR's and KMS's) evaluate them. Root and anonymous callers have none.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import { managedPolicy } from '../iam/managed.js';
import { parsePolicy, type Policy } from '../iam/policy.js';

export async function identityPoliciesOf(identities: IdentityAdmin, principal: Principal): Promise<Policy[]> {
  const role = principal.kind === 'role' ? principal.session?.role : undefined;
  if (principal.kind !== 'user' && role === undefined) return [];
  const records =
    role !== undefined
      ? ((await identities.roles?.rolePolicies(principal.accountId, role.name).catch(() => [])) ?? [])
      : await identities.userPolicies(principal.accountId, principal.userName!);
  const out: Policy[] = [];
  for (const r of records) {
    if (r.kind === 'managed') {
      const p = managedPolicy(r.name);
      if (p) out.push(p);
    } else if (r.document !== undefined) {
      // Documents were validated when stored (older ones less strictly, hence lenient); one that
      // no longer parses grants nothing.
      try {
        out.push(parsePolicy(r.document, { kind: 'identity', maxLength: 1_000_000, lenient: true }));
      } catch {}
    }
  }
  return out;
}
