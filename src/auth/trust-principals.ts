/**
 * A trust policy's IAM principals bound to who they are when it is saved. IAM turns a principal
 * ARN naming a user or role into that entity's unique id when a role trust policy is saved, so a
 * user or role deleted and made again under the same name (another id) is not the one the policy
 * trusts, and refuses an ARN naming no such entity ("Invalid principal in policy"). Berth keeps
 * the document as given and the ids beside it (RoleRecord.trustPrincipalIds), which the
 * evaluator holds a caller's unique id to. Account ids, roots, assumed-role sessions, `*` and
 * federated or service principals name no entity with an id, and are left as they are.
 */
import { IamCodes } from '../core/errors.js';
import type { Policy } from '../iam/policy.js';
import { IdentityError } from './identity-admin.js';

const ENTITY_ARN_RE = /^arn:aws:iam::(\d{12}):(user|role)(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]+)$/;

/** The unique id of the user or role `kind` named exactly `name` on `path` in `accountId`; undefined when there is none. */
export type EntityIdLookup = (accountId: string, kind: 'user' | 'role', name: string, path: string) => Promise<string | undefined>;

/** Each user and role ARN the policy names (Principal or NotPrincipal) with its unique id now; refuses one naming nobody. */
export async function bindTrustPrincipals(policy: Policy, idOf: EntityIdLookup): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const st of policy.statements) {
    for (const p of [...(st.principals ?? []), ...(st.notPrincipals ?? [])]) {
      const m = ENTITY_ARN_RE.exec(p);
      if (!m || Object.hasOwn(ids, p)) continue;
      const id = await idOf(m[1]!, m[2] as 'user' | 'role', m[4]!, m[3]!);
      if (id === undefined) throw new IdentityError(IamCodes.MalformedPolicyDocument, `Invalid principal in policy: "AWS":"${p.slice(0, 300)}"`);
      ids[p] = id;
    }
  }
  return ids;
}
