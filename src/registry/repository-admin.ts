/**
 * Repository administration: create with settings and resource tags, describe, delete (with or
 * without force), change tag mutability and scan-on-push, and manage resource tags. The rules
 * (name grammar, filter requirements, tag limits, encryption fixed at creation) live here so the
 * ECR API and the `berth` admin commands share them.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName } from '../core/names.js';
import { defaultRepositorySettings, type MutabilityFilter, type RepositorySettings, type TagMutability } from '../core/repository-settings.js';
import type { Page, RepositoryRecord, ResourceTag } from '../metadata/types.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { LIFECYCLE_POLICY_KIND } from './lifecycle-policies.js';
import { bindPolicyPrincipals, REPOSITORY_POLICY_KIND } from './policies.js';
import { parsePolicy } from '../iam/policy.js';
import { repositoryNotFound, requireRepository, rethrowQuota } from './repositories.js';
import type { Quotas } from './quotas.js';

export const MAX_RESOURCE_TAGS = 50;
const FILTER_RE = /^[0-9a-zA-Z._*-]{1,128}$/;

export interface CreateRepositoryInput {
  settings?: Partial<RepositorySettings>;
  tags?: ResourceTag[];
  /**
   * Policies the repository is born with (already validated), written in the same transaction.
   * The repository policy's users and roles are bound then, as SetRepositoryPolicy binds them.
   */
  policies?: { repositoryPolicy?: string; lifecyclePolicy?: string };
  /**
   * Whoever creates the repository may use the KMS key it names (http/kms-key-use.ts): asked
   * only when a key is named, after the key is known to exist and be enabled, before anything
   * is written. Unset: no one is asked (`berth admin`, tests of the core alone).
   */
  mayUseKey?: KeyUse;
}

/** Rejects when the repository's creator may not use the key `asked` names (`arn`, once settled). */
export type KeyUse = (key: { asked: string; arn: string }) => Promise<void>;

function invalid(message: string): RegistryError {
  return new RegistryError(Codes.InvalidParameter, message);
}

/** Checks a mutability and its exclusion filters, which ECR requires exactly for the *_WITH_EXCLUSION modes. */
export function checkMutability(mutability: TagMutability, filters: MutabilityFilter[] | undefined): void {
  const withExclusion = mutability.endsWith('_WITH_EXCLUSION');
  if (withExclusion && (!filters || filters.length === 0)) {
    throw invalid(`imageTagMutabilityExclusionFilters are required when imageTagMutability is ${mutability}`);
  }
  if (!withExclusion && filters && filters.length > 0) {
    throw invalid(`imageTagMutabilityExclusionFilters are only allowed with the *_WITH_EXCLUSION mutabilities`);
  }
  if (filters && filters.length > 5) throw invalid('at most 5 imageTagMutabilityExclusionFilters are allowed');
  for (const f of filters ?? []) {
    if (f.filterType !== 'WILDCARD') throw invalid(`filterType must be WILDCARD`);
    if (!FILTER_RE.test(f.filter)) throw invalid(`filter '${f.filter.slice(0, 140)}' must match ^[0-9a-zA-Z._*-]{1,128}$`);
  }
}

export function checkResourceTags(tags: ResourceTag[]): void {
  const keys = new Set<string>();
  for (const t of tags) {
    if (typeof t.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128 || t.Key.startsWith('aws:')) {
      throw new RegistryError(Codes.InvalidTagParameter, 'tag keys must be 1 to 128 characters and must not start with aws:');
    }
    if (typeof t.Value !== 'string' || t.Value.length > 256) {
      throw new RegistryError(Codes.InvalidTagParameter, 'tag values must be at most 256 characters');
    }
    if (keys.has(t.Key)) throw new RegistryError(Codes.InvalidTagParameter, `duplicate tag key ${t.Key}`);
    keys.add(t.Key);
  }
  if (tags.length > MAX_RESOURCE_TAGS) throw new RegistryError(Codes.TooManyTags, `at most ${MAX_RESOURCE_TAGS} tags are allowed`);
}

export class RepositoryAdmin {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly quotas: Quotas,
  ) {}

  async create(scope: RepoScope, input: CreateRepositoryInput = {}): Promise<RepositoryRecord> {
    parseRepositoryName(scope.name);
    const asked: RepositorySettings = { ...defaultRepositorySettings, ...input.settings };
    checkMutability(asked.imageTagMutability, asked.imageTagMutabilityExclusionFilters);
    if (asked.encryptionType === 'AES256' && asked.kmsKey !== undefined) {
      throw invalid('kmsKey can only be given with encryptionType KMS or KMS_DSSE');
    }
    const tags = input.tags ?? [];
    checkResourceTags(tags);
    // Last of the checks: it may create the registry's aws/ecr key, or record a key held
    // elsewhere; whether the creator may use a key it named is judged before either.
    const settings = await this.ctx.vaults.settle(scope.registryKey, asked, async (settled) => {
      if (asked.kmsKey !== undefined && settled.kmsKey !== undefined) await input.mayUseKey?.({ asked: asked.kmsKey, arn: settled.kmsKey });
    });
    const repositoryPolicy = input.policies?.repositoryPolicy;
    const policies = [
      ...(repositoryPolicy !== undefined
        ? [{ kind: REPOSITORY_POLICY_KIND, document: repositoryPolicy, principalIds: await this.#bound(repositoryPolicy) }]
        : []),
      ...(input.policies?.lifecyclePolicy !== undefined ? [{ kind: LIFECYCLE_POLICY_KIND, document: input.policies.lifecyclePolicy }] : []),
    ];
    const maxRepositories = await this.quotas.value(scope.registryKey, 'repositoriesPerRegistry');
    const repo = await this.ctx.meta.repositories
      .create({ ...scope, settings, tags, ...(policies.length > 0 && { policies }), now: this.ctx.clock.now(), maxRepositories })
      .catch(rethrowQuota);
    if (!repo) {
      throw new RegistryError(
        Codes.RepositoryAlreadyExists,
        `The repository with name '${scope.name}' already exists in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    if (tags.length > 0 || input.policies?.repositoryPolicy !== undefined) this.ctx.authzChanges.bump();
    this.ctx.log.info({ repository: scope.name }, 'repository created');
    return repo;
  }

  /**
   * A template's repository policy is stored as text, and the repository's policy is a
   * repository policy like any other: its users and roles are bound to who they are when the
   * repository is born, so one deleted and made again later is not the one it names. One naming
   * nobody then is bound to NOBODY, not refused (refusing would make a push or pull-through fail
   * for a template's stale principal or one not made yet): it grants nobody, and a Deny naming
   * it still refuses whoever takes the name later (iam/principal-bindings.ts boundMayName).
   */
  async #bound(text: string): Promise<Record<string, string>> {
    return bindPolicyPrincipals(this.ctx, parsePolicy(text, { kind: 'resource', maxLength: Number.MAX_SAFE_INTEGER, lenient: true }));
  }

  async exists(scope: RepoScope): Promise<boolean> {
    return (await this.ctx.meta.repositories.find(scope.registryKey, scope.name)) !== undefined;
  }

  get(scope: RepoScope): Promise<RepositoryRecord> {
    return requireRepository(this.ctx, scope);
  }

  list(registryKey: RegistryKey, page: Page): Promise<RepositoryRecord[]> {
    return this.ctx.meta.repositories.listRecords(registryKey, page);
  }

  async delete(scope: RepoScope, force: boolean): Promise<RepositoryRecord> {
    const repo = await requireRepository(this.ctx, scope);
    const result = await this.ctx.meta.repositories.delete(repo.id, { force, now: this.ctx.clock.now() });
    if (result === 'missing') throw repositoryNotFound(scope);
    if (result === 'notEmpty') {
      throw new RegistryError(
        Codes.RepositoryNotEmpty,
        `The repository with name '${scope.name}' in registry with id '${accountOf(scope.registryKey)}' cannot be deleted because it still contains images`,
      );
    }
    this.ctx.authzChanges.bump();
    this.ctx.log.info({ repository: scope.name, force }, 'repository deleted');
    return repo;
  }

  async setTagMutability(scope: RepoScope, mutability: TagMutability, filters?: MutabilityFilter[]): Promise<RepositorySettings> {
    checkMutability(mutability, filters);
    const repo = await requireRepository(this.ctx, scope);
    const settings: RepositorySettings = { ...repo.settings, imageTagMutability: mutability };
    if (filters && filters.length > 0) settings.imageTagMutabilityExclusionFilters = filters;
    else delete settings.imageTagMutabilityExclusionFilters;
    await this.ctx.meta.repositories.updateSettings(repo.id, settings);
    return settings;
  }

  async setScanOnPush(scope: RepoScope, scanOnPush: boolean): Promise<RepositorySettings> {
    const repo = await requireRepository(this.ctx, scope);
    const settings: RepositorySettings = { ...repo.settings, scanOnPush };
    await this.ctx.meta.repositories.updateSettings(repo.id, settings);
    return settings;
  }

  async resourceTags(scope: RepoScope): Promise<ResourceTag[]> {
    const repo = await requireRepository(this.ctx, scope);
    return this.ctx.meta.repositories.resourceTags(repo.id);
  }

  /** The tags of a repository, or none when it does not exist (yet): what aws:ResourceTag/* sees. */
  async resourceTagsIfAny(scope: RepoScope): Promise<ResourceTag[]> {
    const repo = await this.ctx.meta.repositories.find(scope.registryKey, scope.name);
    return repo === undefined ? [] : this.ctx.meta.repositories.resourceTags(repo.id);
  }

  async tagResource(scope: RepoScope, tags: ResourceTag[]): Promise<void> {
    checkResourceTags(tags);
    const repo = await requireRepository(this.ctx, scope);
    if (!(await this.ctx.meta.repositories.putResourceTags(repo.id, tags, MAX_RESOURCE_TAGS))) {
      throw new RegistryError(Codes.TooManyTags, `a repository can have at most ${MAX_RESOURCE_TAGS} tags`);
    }
    this.ctx.authzChanges.bump();
  }

  async untagResource(scope: RepoScope, keys: string[]): Promise<void> {
    const repo = await requireRepository(this.ctx, scope);
    await this.ctx.meta.repositories.removeResourceTags(repo.id, keys);
    this.ctx.authzChanges.bump();
  }
}
