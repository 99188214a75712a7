/**
 * Authorizes a request as the ECR action it is, for either front door: gathers the caller's
 * identity policies (inline and managed) and asks src/iam. Repository and registry policies join
 * as resource policies once they are stored.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import { repositoryArn } from '../core/arns.js';
import { evaluate } from '../iam/evaluator.js';
import { managedPolicy } from '../iam/managed.js';
import { parsePolicy, type Policy } from '../iam/policy.js';

export class AccessDenied extends Error {
  constructor(
    readonly action: string,
    readonly resource: string,
    principalArn: string,
  ) {
    super(`User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource}`);
    this.name = 'AccessDenied';
  }
}

export interface AuthzTarget {
  action: string;
  resourceAccountId: string;
  region: string;
  /** The repository acted on; undefined for registry-level actions (resource "*"). */
  repository?: string;
  sourceIp?: string;
}

/** The repository and registry policies governing a repository (or the registry alone). */
export type ResourcePolicyLoader = (registryId: string, repository: string | undefined) => Promise<Policy[]>;

export class Authorizer {
  constructor(
    private readonly identities: IdentityAdmin,
    private readonly resourcePolicies: ResourcePolicyLoader,
  ) {}

  async check(principal: Principal, target: AuthzTarget): Promise<void> {
    const identityPolicies = principal.kind === 'user' ? await this.policiesOf(principal) : [];
    const resource = target.repository === undefined ? '*' : repositoryArn(target.region, target.resourceAccountId, target.repository);
    const decision = evaluate({
      caller: principal,
      identityPolicies,
      resourcePolicies: await this.resourcePolicies(`${target.resourceAccountId}:${target.region}`, target.repository),
      action: target.action,
      resource,
      resourceAccountId: target.resourceAccountId,
      context: { 'aws:SourceIp': target.sourceIp },
    });
    if (!decision.allowed) throw new AccessDenied(target.action, resource, principal.arn);
  }

  private async policiesOf(principal: Principal): Promise<Policy[]> {
    const records = await this.identities.userPolicies(principal.accountId, principal.userName!);
    const out: Policy[] = [];
    for (const r of records) {
      if (r.kind === 'managed') {
        const p = managedPolicy(r.name);
        if (p) out.push(p);
      } else if (r.document !== undefined) {
        // Documents were validated when stored; one that no longer parses grants nothing.
        try {
          out.push(parsePolicy(r.document, { kind: 'identity', maxLength: 1_000_000 }));
        } catch {
          continue;
        }
      }
    }
    return out;
  }
}

