/** Finding repositories for a request, and the create-on-push rule. */
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName } from '../core/names.js';
import type { RepositoryRecord } from '../metadata/types.js';
import { accountOf, type RegistryContext, type RepoScope } from './context.js';

/** The repository, or NAME_UNKNOWN. */
export async function requireRepository(ctx: RegistryContext, scope: RepoScope): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  const repo = await ctx.meta.repositories.find(scope.registryId, scope.name);
  if (!repo) throw repositoryNotFound(scope);
  return repo;
}

/** The repository a push writes into: created on first push when create-on-push is on. */
export async function repositoryForPush(ctx: RegistryContext, scope: RepoScope): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  if (!ctx.limits.createOnPush) return requireRepository(ctx, scope);
  return ctx.meta.repositories.ensure(scope.registryId, scope.name, ctx.clock.now());
}

export function repositoryNotFound(scope: RepoScope): RegistryError {
  return new RegistryError(
    Codes.NameUnknown,
    `The repository with name '${scope.name}' does not exist in the registry with id '${accountOf(scope.registryId)}'`,
    { name: scope.name },
  );
}
