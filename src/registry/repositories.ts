/** Finding repositories for a request, and whether a push would create one (create-on-push: create-on-push.ts). */
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName } from '../core/names.js';
import type { RepositoryRecord } from '../metadata/types.js';
import { accountOf } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { QuotaRefusal } from '../metadata/quotas.js';
import { quotaRefused } from './quotas.js';

/** The repository, or NAME_UNKNOWN. */
export async function requireRepository(ctx: RegistryContext, scope: RepoScope): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  const repo = await ctx.meta.repositories.find(scope.registryKey, scope.name);
  if (!repo) throw repositoryNotFound(scope);
  return repo;
}

/** A store's QuotaRefusal as the registry's error naming the quota; anything else unchanged. */
export function rethrowQuota(e: unknown): never {
  throw e instanceof QuotaRefusal ? quotaRefused(e) : e;
}

/**
 * Whether a push into `scope` would create the repository, so authorization can ask for
 * CreateRepository first: create-on-push is on, the name is valid and no such repository exists.
 * A repository deleted between this check and the push is recreated by that push; the window is
 * one request, and the caller was allowed to push into it a moment before.
 */
export async function pushCreatesRepository(ctx: RegistryContext, scope: RepoScope): Promise<boolean> {
  if (!ctx.limits.createOnPush) return false;
  try {
    parseRepositoryName(scope.name);
  } catch {
    return false;
  }
  return (await ctx.meta.repositories.find(scope.registryKey, scope.name)) === undefined;
}

export function repositoryNotFound(scope: RepoScope): RegistryError {
  return new RegistryError(
    Codes.NameUnknown,
    `The repository with name '${scope.name}' does not exist in the registry with id '${accountOf(scope.registryKey)}'`,
    { name: scope.name },
  );
}
