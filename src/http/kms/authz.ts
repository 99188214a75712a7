/**
 * Authorizes KMS API requests as `kms:<Op>` on the key's ARN (or "*" for CreateKey, ListKeys,
 * ListAliases), by IAM's rules (src/iam): the account root may do anything in its own account;
 * a user needs an identity policy that allows it, and an explicit Deny wins. Berth keeps no key
 * policies: a customer key behaves as if it had KMS's default key policy, which lets the
 * account's IAM policies decide; an AWS managed key has the service's (managed-key-policy.ts). Keys are found in the caller's own account only, so every decision is
 * within one account. Condition keys: the global ones (condition-keys/global.ts) and whatever
 * the door adds from its table (condition-keys/): KMS's, IAM's, Secrets Manager's.
 *
 * (http/authz.ts's Authorizer names ECR repositories as its resources; this is its twin for
 * keys, reading identity policies the same way and through the same kind of cache.)
 */
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import type { Principal } from '../../auth/principal.js';
import { KmsCodes } from '../../core/errors.js';
import { ChangeSignal, ExpiringCache } from '../../core/expiring-cache.js';
import { deniedMessage } from '../../iam/denial.js';
import { evaluate } from '../../iam/evaluator.js';
import type { Policy } from '../../iam/policy.js';
import { identityPoliciesOf, type IdentityPolicies } from '../identity-policies.js';
import { kmsWireError } from './protocol.js';
import type { Clock } from '../../core/clock.js';
import { globalConditionKeys, type ConditionContext, type RequestOrigin } from '../condition-keys/global.js';

export interface KmsAuthzTarget {
  /** `kms:<Op>`. */
  action: string;
  /** A key or alias ARN, or "*". */
  resource: string;
  origin: RequestOrigin;
  /** aws:RequestedRegion: the region the request is for. */
  region: string;
  /** The action's own condition keys (kms:EncryptionContext:..., iam:PolicyARN, aws:RequestTag/...). */
  context?: ConditionContext;
  /**
   * The key's own key policy, when it has one other than KMS's default (an AWS managed key's,
   * managed-key-policy.ts): then it is the gate, as in KMS. What it neither allows nor delegates
   * to the account (a statement naming its root) no IAM policy allows.
   */
  keyPolicy?: Policy;
}

export class KmsAuthorizer {
  readonly #identities: IdentityAdmin;
  readonly #policies: ExpiringCache<IdentityPolicies>;
  /** For aws:CurrentTime and aws:EpochTime. */
  readonly #clock: Clock;

  constructor(identities: IdentityAdmin, clock: Clock, cache: { ttlMs: number; changes: ChangeSignal } = { ttlMs: 0, changes: new ChangeSignal() }) {
    this.#identities = identities;
    this.#clock = clock;
    this.#policies = new ExpiringCache({ ...cache, maxEntries: 10_000 });
  }

  /** Rejects with AccessDeniedException in KMS's words when `principal` may not. */
  async check(principal: Principal, target: KmsAuthzTarget): Promise<void> {
    const identity: IdentityPolicies =
      principal.kind === 'user' || principal.kind === 'role'
        ? await this.#policies.get(principal.principalArn ?? principal.arn, () => identityPoliciesOf(this.#identities, principal))
        : { policies: [] };
    const decision = evaluate({
      caller: principal,
      identityPolicies: identity.policies,
      ...(identity.boundary && { permissionsBoundary: identity.boundary }),
      resourcePolicies: target.keyPolicy ? [target.keyPolicy] : [],
      ...(target.keyPolicy && { resourcePolicyRequired: true }),
      action: target.action,
      resource: target.resource,
      resourceAccountId: principal.accountId,
      context: {
        ...globalConditionKeys({
          principal,
          ...(identity.userId !== undefined && { userId: identity.userId }),
          origin: target.origin,
          region: target.region,
          resourceAccountId: principal.accountId,
          now: this.#clock.now(),
        }),
        ...target.context,
      },
    });
    if (decision.allowed) return;
    throw kmsWireError(KmsCodes.AccessDenied, deniedMessage(principal.arn, target.action, target.resource, decision));
  }
}

/** The condition keys KMS sets from an encryption context. */
export function encryptionContextConditions(context: Record<string, string> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (context === undefined) return out;
  for (const [k, v] of Object.entries(context)) out[`kms:EncryptionContext:${k}`] = v;
  out['kms:EncryptionContextKeys'] = Object.keys(context);
  return out;
}
