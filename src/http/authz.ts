/**
 * Authorizes a request as the ECR action it is, for either front door: gathers the caller's
 * identity policies (inline and managed), the repository and registry policies, and the condition
 * context (source IP, time, the repository's tags, the tags a request sets), and asks src/iam.
 * A /v2 push that would create its repository (create-on-push) is also a CreateRepository.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import { principalIdOf, type Principal } from '../auth/principal.js';
import { repositoryArn } from '../core/arns.js';
import type { Clock } from '../core/clock.js';
import { ExpiringCache, type ChangeSignal } from '../core/expiring-cache.js';
import { deniedMessage, type Denial } from '../iam/denial.js';
import { evaluate, type Decision } from '../iam/evaluator.js';
import type { Policy } from '../iam/policy.js';
import { identityPoliciesOf, type IdentityPolicies } from './identity-policies.js';
import { globalConditionKeys, type ConditionContext, type RequestOrigin } from './condition-keys/global.js';
import { removedTagKeys, requestTagKeys, resourceTagKeys } from './condition-keys/tags.js';
import { registryKey, registryKeyText, type RegistryKey } from '../core/registry-key.js';

export class AccessDenied extends Error {
  constructor(
    readonly action: string,
    readonly resource: string,
    principalArn: string,
    why: Denial,
  ) {
    super(deniedMessage(principalArn, action, resource, why));
    this.name = 'AccessDenied';
  }
}

export interface AuthzTarget {
  action: string;
  resourceAccountId: string;
  region: string;
  /** The repository acted on; undefined for registry-level actions (resource "*"). */
  repository?: string;
  /**
   * What the request says of where it came from (requestOrigin): aws:SourceIp, aws:SecureTransport,
   * aws:UserAgent, aws:Referer. Required and whole, so no door's check can leave a key out and
   * pass a Deny conditioned on it that the other doors honour.
   */
  origin: RequestOrigin;
  /**
   * A /v2 push, which creates its repository under create-on-push and so is also a
   * CreateRepository when the repository is missing. The JSON API never creates on push.
   */
  createsOnPush?: boolean;
  /** Tags the request sets (CreateRepository, TagResource): aws:RequestTag/* and aws:TagKeys. */
  requestTags?: Array<{ Key: string; Value: string }>;
  /** Tag keys the request removes (UntagResource): aws:TagKeys. */
  removedTagKeys?: string[];
}

/** Another service's resource, for allowsOn / decideOn. */
export interface OtherServiceTarget {
  action: string;
  arn: string;
  resourceAccountId: string;
  region: string;
  origin: RequestOrigin;
  context?: ConditionContext;
}

/** The repository and registry policies governing a repository (or the registry alone). */
export type ResourcePolicyLoader = (registryKey: RegistryKey, repository: string | undefined) => Promise<Policy[]>;

/** The tags of a repository (none when it does not exist). */
export type ResourceTagLoader = (registryKey: RegistryKey, repository: string) => Promise<Array<{ Key: string; Value: string }>>;

/** Whether a push into a repository would create it: create-on-push is on and it does not exist. */
export type PushCreatesCheck = (registryKey: RegistryKey, repository: string) => Promise<boolean>;

/** The actions that start a push, which create the repository when create-on-push does. */
const PUSH_START = /^(ecr|ecr-public):(InitiateLayerUpload|PutImage)$/i;

export interface AuthorizerOptions {
  /** For aws:CurrentTime and aws:EpochTime. */
  clock: Clock;
  pushCreates?: PushCreatesCheck;
}

export class Authorizer {
  private readonly pushCreates: PushCreatesCheck;

  constructor(
    private readonly identities: IdentityAdmin,
    private readonly resourcePolicies: ResourcePolicyLoader,
    private readonly resourceTags: ResourceTagLoader,
    cache: { ttlMs: number; changes: ChangeSignal },
    private readonly options: AuthorizerOptions,
  ) {
    this.pushCreates = options.pushCreates ?? (async () => false);
    const opts = { ...cache, maxEntries: 10_000 };
    this.identityCache = new ExpiringCache(opts);
    this.policyCache = new ExpiringCache(opts);
    this.tagCache = new ExpiringCache(opts);
  }

  // Policies are read on every request; they change rarely (see ExpiringCache).
  private readonly identityCache: ExpiringCache<IdentityPolicies>;
  private readonly policyCache: ExpiringCache<Policy[]>;
  private readonly tagCache: ExpiringCache<Array<{ Key: string; Value: string }>>;

  async check(principal: Principal, target: AuthzTarget): Promise<void> {
    const { identity, context } = await this.callerFacts(principal, target);
    const resource = target.repository === undefined ? '*' : repositoryArn(target.region, target.resourceAccountId, target.repository);
    const key = registryKey(target.resourceAccountId, target.region);
    const resourcePolicies = await this.policyCache.get(`${registryKeyText(key)}\n${target.repository ?? ''}`, () =>
      this.resourcePolicies(key, target.repository),
    );
    // The repository's tags cost a lookup; only fetch them when some policy asks.
    const policies = [...identity.policies, ...(identity.boundary ? [identity.boundary] : []), ...resourcePolicies, ...(principal.sessionPolicies ?? [])];
    if (target.repository !== undefined && target.repository !== '*' && mentionsResourceTag(policies)) {
      const repository = target.repository;
      const tags = await this.tagCache.get(`${registryKeyText(key)}\n${repository}`, () => this.resourceTags(key, repository));
      // ECR knows the repository's tags under both names; ECR Public's guide writes its Deny
      // with ecr:ResourceTag too, and its reference names ecr-public:ResourceTag.
      Object.assign(context, resourceTagKeys(tags, target.action.startsWith('ecr-public:') ? ['ecr', 'ecr-public'] : ['ecr']));
    }
    Object.assign(context, requestTagKeys(target.requestTags), removedTagKeys(target.removedTagKeys));
    const decision = evaluate({
      // Held to the ids a repository or registry policy bound its principals to (iam/principal-bindings.ts).
      // A /v2 login's user principal carries no id; the user read for its policies (by its ARN) is it.
      caller: {
        ...principal,
        ...principalIdOf(principal.userId === undefined && identity.userId !== undefined ? { ...principal, userId: identity.userId } : principal),
      },
      identityPolicies: identity.policies,
      ...(identity.boundary && { permissionsBoundary: identity.boundary }),
      resourcePolicies,
      action: target.action,
      resource,
      resourceAccountId: target.resourceAccountId,
      context,
    });
    if (!decision.allowed) throw new AccessDenied(target.action, resource, principal.arn, decision);
    // The rule is here, not in each front door, so /v2 and the JSON API cannot disagree. Checked
    // after the push action itself, so a caller who may not push hears about that first.
    const push = PUSH_START.exec(target.action);
    if (
      push &&
      target.createsOnPush === true &&
      target.repository !== undefined &&
      target.repository !== '*' &&
      (await this.pushCreates(key, target.repository))
    ) {
      await this.check(principal, { ...target, action: `${push[1]}:CreateRepository` });
    }
  }

  /**
   * Whether `principal` may do `action` on another service's resource `arn` (managed signing's
   * signer:SignPayload on a profile, a template's iam:PassRole on its role), from identity
   * policies alone: Berth keeps no resource policies beyond ECR's. `context`: the action's own
   * condition keys (iam:PassedToService).
   */
  async allowsOn(principal: Principal, target: OtherServiceTarget): Promise<boolean> {
    return (await this.decideOn(principal, target)).allowed;
  }

  /** allowsOn's decision, with why it denied (for AWS's words of the refusal). */
  async decideOn(principal: Principal, target: OtherServiceTarget): Promise<Decision> {
    const { identity, context } = await this.callerFacts(principal, target);
    return evaluate({
      caller: principal,
      identityPolicies: identity.policies,
      ...(identity.boundary && { permissionsBoundary: identity.boundary }),
      resourcePolicies: [],
      action: target.action,
      resource: target.arn,
      resourceAccountId: target.resourceAccountId,
      context: { ...context, ...target.context },
    });
  }

  /** The caller's identity policies (cached) and the request's global condition keys, as every check starts. */
  private async callerFacts(
    principal: Principal,
    target: { origin: RequestOrigin; region: string; resourceAccountId: string },
  ): Promise<{ identity: IdentityPolicies; context: ReturnType<typeof globalConditionKeys> }> {
    const identity: IdentityPolicies =
      principal.kind === 'user' || principal.kind === 'role'
        ? await this.identityCache.get(principal.principalArn ?? principal.arn, () => identityPoliciesOf(this.identities, principal))
        : { policies: [] };
    const context = globalConditionKeys({
      principal,
      ...(identity.userId !== undefined && { userId: identity.userId }),
      origin: target.origin,
      region: target.region,
      resourceAccountId: target.resourceAccountId,
      now: this.options.clock.now(),
    });
    return { identity, context };
  }
}

/** Whether a policy reads the repository's tags: as a condition key, or as a policy variable (`${aws:ResourceTag/...}`). */
function mentionsResourceTag(policies: Policy[]): boolean {
  const variable = (texts: string[] | undefined) => texts?.some((t) => /\$\{\s*(aws|ecr|ecr-public):resourcetag\//i.test(t)) === true;
  return policies.some((p) =>
    p.statements.some(
      (st) =>
        st.conditions.some((c) => /^(aws|ecr|ecr-public):resourcetag\//.test(c.key) || (p.variables === true && variable(c.values))) ||
        (p.variables === true && (variable(st.resources) || variable(st.notResources))),
    ),
  );
}
