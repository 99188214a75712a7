/** The identity policies of an IAM user, parsed, as both authorizers (ECR's and KMS's) evaluate them. */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import { managedPolicy } from '../iam/managed.js';
import { parsePolicy, type Policy } from '../iam/policy.js';

export async function identityPoliciesOf(identities: IdentityAdmin, principal: Principal): Promise<Policy[]> {
  const records = await identities.userPolicies(principal.accountId, principal.userName!);
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
