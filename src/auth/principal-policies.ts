/**
 * The identity policies of a user (its groups' too) or a role, parsed, with its permissions
 * boundary: what every authorizer evaluates for a principal on a cache miss, read in one store
 * query (customer policies' default versions joined in) whatever the number of groups and
 * policies. The principal is named exactly, as its credentials name it.
 */
import { managedPolicy } from '../iam/managed.js';
import { parsePolicy, type Policy } from '../iam/policy.js';
import type { IdentityStore } from '../metadata/identities.js';

export interface PrincipalPolicies {
  policies: Policy[];
  boundary?: Policy;
}

/**
 * A stored policy document as the evaluator applies it. Documents were checked when stored (older
 * rules less strictly, hence lenient); one that no longer parses allows nothing.
 */
export function storedPolicy(document: string): Policy {
  try {
    return parsePolicy(document, { kind: 'identity', maxLength: 1_000_000, lenient: true });
  } catch {
    return { statements: [] };
  }
}

export async function principalPolicies(store: IdentityStore, accountId: string, kind: 'user' | 'role', name: string): Promise<PrincipalPolicies> {
  const policies: Policy[] = [];
  let boundary: Policy | undefined;
  for (const r of await store.principalPolicies(accountId, kind, name)) {
    if (r.kind === 'inline') {
      if (r.document !== undefined) policies.push(storedPolicy(r.document));
      continue;
    }
    // AWS's own, or the account's customer policy's default version as of now (a new default is
    // read once the caches drop this); an ARN naming neither grants nothing.
    const managed = managedPolicy(r.name) ?? (r.managedDocument === undefined ? undefined : storedPolicy(r.managedDocument));
    // A boundary was a managed policy Berth had when it was set; one it no longer has allows nothing.
    if (r.kind === 'boundary') boundary = managed ?? { statements: [] };
    else if (managed) policies.push(managed);
  }
  return boundary ? { policies, boundary } : { policies };
}
