/**
 * A repository's lifecycle policy: validated in full when put (by the pure schema in
 * lifecycle-policy-validation.ts), stored as given, read and deleted. Evaluation is the lifecycle engine's job.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { LifecyclePolicyError, parseLifecyclePolicy } from './lifecycle-policy-validation.js';
import { repositoryPolicyScope } from '../metadata/policy-scopes.js';
import { accountOf } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { requireRepository } from './repositories.js';
import { PolicyNotFound } from './policies.js';

/** The PolicyStore kind of lifecycle policies. */
export const LIFECYCLE_POLICY_KIND = 'lifecycle';
const KIND = LIFECYCLE_POLICY_KIND;

export class LifecyclePolicies {
  constructor(private readonly ctx: RegistryContext) {}

  async put(scope: RepoScope, text: string): Promise<void> {
    try {
      parseLifecyclePolicy(text);
    } catch (e) {
      if (e instanceof LifecyclePolicyError) throw new RegistryError(Codes.InvalidParameter, e.message);
      throw e;
    }
    await requireRepository(this.ctx, scope);
    await this.ctx.meta.policies.put(repositoryPolicyScope(scope.registryKey, scope.name), KIND, text, this.ctx.clock.now());
  }

  async get(scope: RepoScope): Promise<string> {
    await requireRepository(this.ctx, scope);
    const p = await this.ctx.meta.policies.get(repositoryPolicyScope(scope.registryKey, scope.name), KIND);
    if (!p) {
      throw new PolicyNotFound(
        `Lifecycle policy does not exist for the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    return p.document;
  }

  async delete(scope: RepoScope): Promise<string> {
    const text = await this.get(scope);
    await this.ctx.meta.policies.delete(repositoryPolicyScope(scope.registryKey, scope.name), KIND);
    return text;
  }
}
