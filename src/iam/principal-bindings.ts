/**
 * A resource-based policy's IAM principals bound to who they are when it is saved. IAM turns a
 * principal ARN naming a user or role into that entity's unique id when the policy is saved (a
 * role's trust policy, a repository or registry policy), so a user or role deleted and made again
 * under the same name (another id) is not the one the policy names, and refuses an ARN naming no
 * such entity ("Invalid principal in policy"). Berth keeps the document as given and the ids
 * beside it (RoleRecord.trustPrincipalIds, the policies store's principalIds); the evaluator holds
 * a caller's unique id to them (Policy.principalIds). Account ids, roots, assumed-role sessions,
 * `*` and federated or service principals name no entity with an id, and are left as they are.
 */
import type { Policy } from './policy.js';

const ENTITY_ARN_RE = /^arn:aws:iam::(\d{12}):(user|role)(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]+)$/;

/** The unique id of the user or role `kind` named exactly `name` on `path` in `accountId`; undefined when there is none. */
export type EntityIdLookup = (accountId: string, kind: 'user' | 'role', name: string, path: string) => Promise<string | undefined>;

/**
 * The id an ARN naming no user or role is bound to when it is not refused. No caller has it: the
 * ARN grants to nobody, whoever is made under that name later, but still restricts whoever is
 * (boundMayName).
 */
export const NOBODY = '(nobody)';

/**
 * Whether a statement's principal ARN, bound to `bound` (undefined: not bound), may name a caller
 * whose unique id is `callerId`; the ARN itself must still match. `restricts` says what naming
 * the caller does: true in a Deny's Principal and an Allow's NotPrincipal (naming the caller
 * refuses it, or leaves it out of "everyone but"), false where naming it grants (an Allow's
 * Principal, a Deny's NotPrincipal: excepted from the Deny).
 *
 * An ARN bound to an id names that user or role only, in every statement (a principal deleted and
 * made again is another one, as IAM binds). An ARN bound to NOBODY (it named nobody when the
 * policy was bound: a creation template's, at the repository's birth) fails closed: it names
 * whoever is made under it later where that restricts, so "Deny user/contractor" written before
 * `contractor` exists still refuses `contractor`, and names nobody where that would grant.
 */
export function boundMayName(bound: string | undefined, callerId: string | undefined, restricts: boolean): boolean {
  if (bound === undefined) return true;
  if (bound === NOBODY) return restricts;
  return bound === callerId;
}

export interface BindOptions {
  /** The error for an ARN naming no user or role, given IAM's message; unset: bound to NOBODY instead. */
  invalid?: (message: string) => Error;
  /**
   * Whether Berth serves the account. An ARN in one it does not is bound to NOBODY, not refused (a
   * policy may name principals of accounts elsewhere) and not left unbound: no caller of Berth's is
   * in the account now, and a user made under the ARN once it is served (`berth admin
   * create-account`) is not the one the policy named. Unset: every account is looked up.
   */
  serves?: (accountId: string) => Promise<boolean>;
}

/** Each user and role ARN the policy names (Principal or NotPrincipal) with its unique id now; refuses one naming nobody (see BindOptions.invalid). */
export async function bindPrincipals(policy: Policy, idOf: EntityIdLookup, opts: BindOptions): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const seen = new Set<string>();
  for (const st of policy.statements) {
    for (const p of [...(st.principals ?? []), ...(st.notPrincipals ?? [])]) {
      const m = ENTITY_ARN_RE.exec(p);
      if (!m || seen.has(p)) continue;
      seen.add(p);
      const served = opts.serves === undefined || (await opts.serves(m[1]!));
      const id = served ? await idOf(m[1]!, m[2] as 'user' | 'role', m[4]!, m[3]!) : undefined;
      if (id === undefined && served && opts.invalid) throw opts.invalid(`Invalid principal in policy: "AWS":"${p.slice(0, 300)}"`);
      ids[p] = id ?? NOBODY;
    }
  }
  return ids;
}
