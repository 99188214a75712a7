/**
 * Create-on-push: a /v2 push into a repository that does not exist creates it (when the
 * `createOnPush` setting is on), with the repository creation template that applies to
 * CREATE_ON_PUSH, as ECR does. Authorization asks for CreateRepository first (http/authz.ts).
 */
import { parseRepositoryName } from '../core/names.js';
import type { RepositoryRecord } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import { createRepositoryFor } from './creation-templates.js';
import { requireRepository } from './repositories.js';
import type { Quotas } from './quotas.js';

/**
 * The repository a push writes into: created on first push when create-on-push is on. Pushes
 * racing to create it (a client uploads layers in parallel) all get the one repository.
 */
export async function repositoryForPush(ctx: RegistryContext, scope: RepoScope, quotas: Quotas): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  if (!ctx.limits.createOnPush) return requireRepository(ctx, scope);
  const existing = await ctx.meta.repositories.find(scope.registryKey, scope.name);
  return existing ?? createRepositoryFor(ctx, quotas, scope, 'CREATE_ON_PUSH');
}
