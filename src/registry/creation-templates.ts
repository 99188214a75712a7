/**
 * Repository creation templates (ECR's RCTs): the settings a repository is born with when Berth
 * creates it on someone's behalf — a /v2 push into a missing repository (CREATE_ON_PUSH), a
 * replicated image whose destination repository is missing (REPLICATION), the first pull
 * through the cache (PULL_THROUGH_CACHE). Here: the template rules (validation, partial
 * updates, prefix matching) and createRepositoryFor, the one way those three create.
 *
 * A template's prefix is a repository namespace with an implicit trailing slash ("prod" covers
 * "prod/web" and "prod/team/api", not "prod" or "production/x"), or ROOT for every repository
 * no more specific template covers. The template applied is that of the longest prefix whose
 * appliedFor names the scenario; else the ROOT template when it names it; else none (ECR's
 * defaults).
 *
 * Berth creates on the registry's own authority, as ECR does with its service-linked role:
 * customRoleArn is validated (a role of the registry's account) and kept, never assumed.
 */
import type { Quotas } from './quotas.js';
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName } from '../core/names.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import type { EncryptionType, MutabilityFilter, RepositorySettings, TagMutability } from '../core/repository-settings.js';
import { parsePolicy, PolicyError } from '../iam/policy.js';
import type { CreationTemplateRecord } from '../metadata/creation-templates.js';
import type { RepositoryRecord, ResourceTag } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import { LifecyclePolicyError, parseLifecyclePolicy } from './lifecycle-policy-validation.js';
import { checkMutability, checkResourceTags, RepositoryAdmin } from './repository-admin.js';

export const APPLIED_FOR = ['REPLICATION', 'PULL_THROUGH_CACHE', 'CREATE_ON_PUSH'] as const;
export type AppliedFor = (typeof APPLIED_FOR)[number];

export const ROOT_PREFIX = 'ROOT';
const MAX_REPOSITORY_POLICY_CHARS = 10240;
/** A role of some account; the account must be the registry's. */
const ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/** What a template gives a repository, as stored (the document) and as ECR shows it. */
export interface TemplateSettings {
  appliedFor: AppliedFor[];
  description?: string;
  encryptionConfiguration: { encryptionType: EncryptionType; kmsKey?: string };
  resourceTags: ResourceTag[];
  imageTagMutability: TagMutability;
  imageTagMutabilityExclusionFilters?: MutabilityFilter[];
  repositoryPolicy?: string;
  lifecyclePolicy?: string;
  customRoleArn?: string;
}

export interface CreationTemplate extends TemplateSettings {
  prefix: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A template's fields as CreateRepositoryCreationTemplate gives them (appliedFor required) or
 * UpdateRepositoryCreationTemplate does (each given field replaces the stored one; an empty
 * string clears description, the policies, customRoleArn; imageTagMutability given replaces its
 * exclusion filters too, encryptionConfiguration given replaces it whole).
 */
export interface TemplateInput {
  appliedFor?: AppliedFor[];
  description?: string;
  encryptionConfiguration?: { encryptionType: EncryptionType; kmsKey?: string };
  resourceTags?: ResourceTag[];
  imageTagMutability?: TagMutability;
  imageTagMutabilityExclusionFilters?: MutabilityFilter[];
  repositoryPolicy?: string;
  lifecyclePolicy?: string;
  customRoleArn?: string;
}

/** An update lost to a concurrent one is redone on a fresh read this many times. */
const UPDATE_TRIES = 5;

function invalid(field: string, why: string): RegistryError {
  return new RegistryError(Codes.InvalidParameter, `Invalid parameter at '${field}' failed to satisfy constraint: '${why}'`);
}

/** ROOT, or the namespace without its implicit trailing slash ("prod/" and "prod" are one template). */
export function normalizePrefix(prefix: string): string {
  return prefix === ROOT_PREFIX ? prefix : prefix.replace(/\/+$/, '');
}

/** The prefixes that can cover `name`, most specific first: its parent namespaces, then ROOT. */
export function prefixesCovering(name: string): string[] {
  const parts = name.split('/');
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 1; i--) out.push(parts.slice(0, i).join('/'));
  return [...out, ROOT_PREFIX];
}

/** Checks a whole template against ECR's rules beyond its model; throws InvalidParameter (or the tag errors). */
export function checkTemplate(registryKey: RegistryKey, t: TemplateSettings): void {
  if (t.appliedFor.length === 0) throw invalid('appliedFor', 'at least one of REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH is required');
  checkMutability(t.imageTagMutability, t.imageTagMutabilityExclusionFilters);
  const enc = t.encryptionConfiguration;
  if (enc.encryptionType === 'AES256' && enc.kmsKey !== undefined) {
    throw invalid('encryptionConfiguration.kmsKey', 'kmsKey can only be given with encryptionType KMS or KMS_DSSE');
  }
  checkResourceTags(t.resourceTags);
  if (t.repositoryPolicy !== undefined) {
    try {
      parsePolicy(t.repositoryPolicy, { kind: 'resource', maxLength: MAX_REPOSITORY_POLICY_CHARS });
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      throw invalid('repositoryPolicy', `Invalid repository policy provided (${e.message})`);
    }
  }
  if (t.lifecyclePolicy !== undefined) {
    try {
      parseLifecyclePolicy(t.lifecyclePolicy);
    } catch (e) {
      if (!(e instanceof LifecyclePolicyError)) throw e;
      // The message names the field ECR names (LifecyclePolicyText) already.
      throw new RegistryError(Codes.InvalidParameter, e.message);
    }
  }
  if (t.customRoleArn !== undefined) {
    const m = ROLE_ARN_RE.exec(t.customRoleArn);
    if (!m) throw invalid('customRoleArn', 'must be the ARN of an IAM role');
    if (m[1] !== accountOf(registryKey)) throw invalid('customRoleArn', "the role must be in the registry's account");
  }
}

/**
 * What a template grants beyond its own action, as ECR documents the permissions of its
 * creator: the repositories it creates, and the lifecycle and repository policies they carry
 * ("only required if the repository creation template includes" one).
 */
export function grantedActions(t: Pick<TemplateSettings, 'lifecyclePolicy' | 'repositoryPolicy'>): string[] {
  return [
    'CreateRepository',
    ...(t.lifecyclePolicy !== undefined ? ['PutLifecyclePolicy'] : []),
    ...(t.repositoryPolicy !== undefined ? ['SetRepositoryPolicy'] : []),
  ];
}

/** Applies an input over a template (or over ECR's defaults for a new one); '' clears a text field. */
function merged(base: TemplateSettings | undefined, input: TemplateInput): TemplateSettings {
  const out: TemplateSettings = base
    ? structuredClone(base)
    : { appliedFor: [], encryptionConfiguration: { encryptionType: 'AES256' }, resourceTags: [], imageTagMutability: 'MUTABLE' };
  if (input.appliedFor !== undefined) out.appliedFor = [...new Set(input.appliedFor)];
  if (input.encryptionConfiguration !== undefined) {
    const { encryptionType, kmsKey } = input.encryptionConfiguration;
    out.encryptionConfiguration = { encryptionType, ...(kmsKey !== undefined && kmsKey !== '' && { kmsKey }) };
  }
  if (input.resourceTags !== undefined) out.resourceTags = input.resourceTags;
  if (input.imageTagMutability !== undefined) {
    out.imageTagMutability = input.imageTagMutability;
    delete out.imageTagMutabilityExclusionFilters;
  }
  if (input.imageTagMutabilityExclusionFilters !== undefined) out.imageTagMutabilityExclusionFilters = input.imageTagMutabilityExclusionFilters;
  for (const field of ['description', 'repositoryPolicy', 'lifecyclePolicy', 'customRoleArn'] as const) {
    const v = input[field];
    if (v === undefined) continue;
    if (v === '') delete out[field];
    else out[field] = v;
  }
  return out;
}

function toTemplate(r: CreationTemplateRecord): CreationTemplate {
  return { prefix: r.prefix, ...(JSON.parse(r.document) as TemplateSettings), createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function notFound(registryKey: RegistryKey, prefix: string): RegistryError {
  return new RegistryError(
    Codes.TemplateNotFound,
    `The repository creation template with prefix '${prefix}' does not exist in the registry with id '${accountOf(registryKey)}'`,
  );
}

export interface CreateRepositoryExtra {
  /** Resource tags added to the template's (the caller's value wins on a key both set). */
  tags?: ResourceTag[];
}

/**
 * Creates the repository `scope` names as `appliedFor`'s scenario does: with the settings,
 * resource tags, lifecycle policy and repository policy of the matching template (see the file
 * comment), or ECR's defaults when none matches. All or nothing: the repository row, its tags
 * and its policies are one transaction, so no crash leaves the repository without its policy.
 * A repository that exists already (another request created it first) is returned as it is,
 * unchanged: callers ask for "this repository, created if missing". Throws InvalidParameter
 * for a bad name, and KmsException when the template's KMS key cannot be used.
 */
export async function createRepositoryFor(
  ctx: RegistryContext,
  quotas: Quotas,
  scope: RepoScope,
  appliedFor: AppliedFor,
  extra: CreateRepositoryExtra = {},
): Promise<RepositoryRecord> {
  parseRepositoryName(scope.name);
  const template = await templateFor(ctx, scope, appliedFor);
  const tags = new Map((template?.resourceTags ?? []).map((t) => [t.Key, t.Value]));
  for (const t of extra.tags ?? []) tags.set(t.Key, t.Value);
  const settings: Partial<RepositorySettings> = template
    ? {
        imageTagMutability: template.imageTagMutability,
        ...(template.imageTagMutabilityExclusionFilters && { imageTagMutabilityExclusionFilters: template.imageTagMutabilityExclusionFilters }),
        encryptionType: template.encryptionConfiguration.encryptionType,
        ...(template.encryptionConfiguration.kmsKey !== undefined && { kmsKey: template.encryptionConfiguration.kmsKey }),
      }
    : {};
  try {
    const repo = await new RepositoryAdmin(ctx, quotas).create(scope, {
      settings,
      tags: [...tags].map(([Key, Value]) => ({ Key, Value })),
      policies: {
        ...(template?.repositoryPolicy !== undefined && { repositoryPolicy: template.repositoryPolicy }),
        ...(template?.lifecyclePolicy !== undefined && { lifecyclePolicy: template.lifecyclePolicy }),
      },
      ...(template && ctx.templateKeyUse && { mayUseKey: ctx.templateKeyUse(scope.registryKey, template) }),
    });
    ctx.log.info({ repository: scope.name, appliedFor, template: template?.prefix ?? null }, 'repository created from a creation template');
    return repo;
  } catch (e) {
    if (!(e instanceof RegistryError) || e.code !== Codes.RepositoryAlreadyExists) throw e;
    const existing = await ctx.meta.repositories.find(scope.registryKey, scope.name);
    if (!existing) throw e;
    return existing;
  }
}

/** The template that applies to creating `scope` for `appliedFor`, if any (see the file comment). */
export async function templateFor(ctx: RegistryContext, scope: RepoScope, appliedFor: AppliedFor): Promise<CreationTemplate | undefined> {
  const covering = prefixesCovering(scope.name);
  const found = new Map((await ctx.meta.creationTemplates.getMany(scope.registryKey, covering)).map((r) => [r.prefix, toTemplate(r)]));
  for (const prefix of covering) {
    const t = found.get(prefix);
    if (t?.appliedFor.includes(appliedFor)) return t;
  }
  return undefined;
}

/** The four template actions, and createRepositoryFor as a method of the registry core. */
export class CreationTemplates {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly quotas: Quotas,
  ) {}

  /** See the function of the same name: the entry point for replication and the pull-through cache. */
  createRepositoryFor(scope: RepoScope, appliedFor: AppliedFor, extra?: CreateRepositoryExtra): Promise<RepositoryRecord> {
    return createRepositoryFor(this.ctx, this.quotas, scope, appliedFor, extra);
  }

  async create(registryKey: RegistryKey, prefix: string, input: TemplateInput & { appliedFor: AppliedFor[] }): Promise<CreationTemplate> {
    const key = normalizePrefix(prefix);
    const settings = merged(undefined, input);
    checkTemplate(registryKey, settings);
    const now = this.ctx.clock.now();
    if (!(await this.ctx.meta.creationTemplates.create({ registryKey, prefix: key, document: JSON.stringify(settings), now }))) {
      throw new RegistryError(
        Codes.TemplateAlreadyExists,
        `The repository creation template with prefix '${key}' already exists in the registry with id '${accountOf(registryKey)}'`,
      );
    }
    this.ctx.log.info({ prefix: key, appliedFor: settings.appliedFor }, 'repository creation template created');
    return { prefix: key, ...settings, createdAt: now, updatedAt: now };
  }

  /**
   * `mayGrant`, when given, is asked what the template will grant as updated (the policies it
   * will carry), not only what the update names: a template whose `appliedFor` widens carries
   * its stored policies to more repositories, and that is granting them (see grantedActions).
   */
  async update(registryKey: RegistryKey, prefix: string, input: TemplateInput, mayGrant?: (actions: string[]) => Promise<void>): Promise<CreationTemplate> {
    const key = normalizePrefix(prefix);
    for (let attempt = 0; attempt < UPDATE_TRIES; attempt++) {
      const current = await this.ctx.meta.creationTemplates.get(registryKey, key);
      if (!current) throw notFound(registryKey, key);
      const { prefix: _p, createdAt: _c, updatedAt: _u, ...base } = toTemplate(current);
      const settings = merged(base, input);
      checkTemplate(registryKey, settings);
      await mayGrant?.(grantedActions(settings));
      const saved = await this.ctx.meta.creationTemplates.update(registryKey, key, JSON.stringify(settings), current.version, this.ctx.clock.now());
      if (saved) {
        this.ctx.log.info({ prefix: key }, 'repository creation template updated');
        return toTemplate(saved);
      }
    }
    throw new RegistryError(Codes.TooManyRequests, `the repository creation template '${key}' is being changed concurrently; try again`);
  }

  async delete(registryKey: RegistryKey, prefix: string): Promise<CreationTemplate> {
    const key = normalizePrefix(prefix);
    const removed = await this.ctx.meta.creationTemplates.delete(registryKey, key);
    if (!removed) throw notFound(registryKey, key);
    this.ctx.log.info({ prefix: key }, 'repository creation template deleted');
    return toTemplate(removed);
  }

  /** In prefix order after `after`; with `prefixes`, only those (absent ones are skipped, as ECR does). */
  async describe(registryKey: RegistryKey, opts: { prefixes?: string[]; after?: string; limit: number }): Promise<CreationTemplate[]> {
    if (opts.prefixes) {
      const found = await this.ctx.meta.creationTemplates.getMany(registryKey, opts.prefixes.map(normalizePrefix));
      return found
        .filter((r) => opts.after === undefined || r.prefix > opts.after)
        .slice(0, opts.limit)
        .map(toTemplate);
    }
    const page = await this.ctx.meta.creationTemplates.list(registryKey, { ...(opts.after !== undefined && { after: opts.after }), limit: opts.limit });
    return page.map(toTemplate);
  }
}
