/** Finding repositories for a request, and the create-on-push rule. */
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName } from '../core/names.js';
import type { RepositoryRecord } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';

/** The repository, or NAME_UNKNOWN. */
export async function requireRepository(ctx: RegistryContext, scope: RepoScope): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  const repo = await ctx.meta.repositories.find(scope.registryId, scope.name);
  if (!repo) throw new RegistryError(Codes.NameUnknown, `repository ${scope.name} not found`, { name: scope.name });
  return repo;
}

/** The repository a push writes into: created on first push when create-on-push is on. */
export async function repositoryForPush(ctx: RegistryContext, scope: RepoScope): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  if (!ctx.limits.createOnPush) return requireRepository(ctx, scope);
  return ctx.meta.repositories.ensure(scope.registryId, scope.name, ctx.clock.now());
}
