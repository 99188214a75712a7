/**
 * Repository and registry policies: validated as IAM resource policies when set, read back as
 * stored, and handed to authorization as parsed documents. The registry policy scope (ECR's
 * REGISTRY_POLICY_SCOPE account setting) says which actions a registry policy may name and
 * governs: V2, ECR's default, any ECR action; V1 only replication, pull-through import and
 * repository creation.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { parsePolicy, PolicyError, type Policy } from '../iam/policy.js';
import { bindPrincipals } from '../iam/principal-bindings.js';
import { registryPolicyScope, repositoryPolicyScope } from '../metadata/policy-scopes.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import type { RegistryContext, RepoScope } from './context.js';
import { requireRepository } from './repositories.js';

const MAX_POLICY_CHARS = 10240;
/** The PolicyStore kind of repository and registry policies. */
export const REPOSITORY_POLICY_KIND = 'access';
const KIND = REPOSITORY_POLICY_KIND;
const SCOPE_SETTING = 'registryPolicyScope';

export type RegistryPolicyScope = 'V1' | 'V2';
export const REGISTRY_POLICY_SCOPES: readonly RegistryPolicyScope[] = ['V1', 'V2'];
const V1_ACTIONS = ['ecr:ReplicateImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];

export class PolicyNotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyNotFound';
  }
}

function invalidPolicy(what: 'repository' | 'registry', why: string): RegistryError {
  return new RegistryError(
    Codes.InvalidParameter,
    `Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid ${what} policy provided' (${why})`,
  );
}

function validate(text: string, what: 'repository' | 'registry'): Policy {
  try {
    return parsePolicy(text, { kind: 'resource', maxLength: MAX_POLICY_CHARS });
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    throw invalidPolicy(what, e.message);
  }
}

/** A registry policy names ECR actions only, and under V1 only the three V1 actions. */
function checkRegistryActions(policy: Policy, scope: RegistryPolicyScope): void {
  for (const [i, s] of policy.statements.entries()) {
    if (scope === 'V1' && s.notActions) throw invalidPolicy('registry', `Statement[${i}]: NotAction is not allowed under registry policy scope V1`);
    for (const a of s.actions ?? s.notActions ?? []) {
      if (!a.toLowerCase().startsWith('ecr:')) throw invalidPolicy('registry', `Statement[${i}]: '${a}' is not an ECR action`);
      if (scope === 'V1' && !V1_ACTIONS.some((v) => v.toLowerCase() === a.toLowerCase())) {
        throw invalidPolicy('registry', `Statement[${i}]: under registry policy scope V1 only ${V1_ACTIONS.join(', ')} are allowed, not '${a}'`);
      }
    }
  }
}

/**
 * The unique ids of the users and roles a repository or registry policy names
 * (iam/principal-bindings.ts). One in an account Berth serves that names nobody is refused as ECR
 * refuses an invalid policy (`what`), or, with `what` unset, bound to nobody; one in an account
 * Berth does not serve is bound to nobody (no caller of Berth's is it now; BindOptions.serves).
 */
export function bindPolicyPrincipals(ctx: RegistryContext, policy: Policy, what?: 'repository' | 'registry'): Promise<Record<string, string>> {
  const { identities, roles } = ctx.meta;
  return bindPrincipals(
    policy,
    async (accountId, kind, name, path) => {
      const e = kind === 'user' ? await identities.user(accountId, name) : await roles.role(accountId, name);
      if (e === undefined || e.name !== name || e.path !== path) return undefined;
      return 'userId' in e ? e.userId : e.roleId;
    },
    {
      ...(what !== undefined && { invalid: (message: string) => invalidPolicy(what, message) }),
      serves: async (accountId) => (await identities.account(accountId)) !== undefined,
    },
  );
}

export class Policies {
  constructor(private readonly ctx: RegistryContext) {}

  async setRepositoryPolicy(scope: RepoScope, text: string): Promise<void> {
    const policy = validate(text, 'repository');
    await requireRepository(this.ctx, scope);
    const ids = await bindPolicyPrincipals(this.ctx, policy, 'repository');
    await this.ctx.meta.policies.put(repositoryPolicyScope(scope.registryKey, scope.name), KIND, text, this.ctx.clock.now(), ids);
    this.ctx.authzChanges.bump();
  }

  async repositoryPolicy(scope: RepoScope): Promise<string> {
    await requireRepository(this.ctx, scope);
    const p = await this.ctx.meta.policies.get(repositoryPolicyScope(scope.registryKey, scope.name), KIND);
    if (!p) {
      throw new PolicyNotFound(
        `Repository policy does not exist for the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    return p.document;
  }

  async deleteRepositoryPolicy(scope: RepoScope): Promise<string> {
    const text = await this.repositoryPolicy(scope);
    await this.ctx.meta.policies.delete(repositoryPolicyScope(scope.registryKey, scope.name), KIND);
    this.ctx.authzChanges.bump();
    return text;
  }

  async setRegistryPolicy(registryKey: RegistryKey, text: string): Promise<void> {
    const policy = validate(text, 'registry');
    checkRegistryActions(policy, await this.registryPolicyScope(registryKey));
    const ids = await bindPolicyPrincipals(this.ctx, policy, 'registry');
    await this.ctx.meta.policies.put(registryPolicyScope(registryKey), KIND, text, this.ctx.clock.now(), ids);
    this.ctx.authzChanges.bump();
  }

  async registryPolicy(registryKey: RegistryKey): Promise<string> {
    const p = await this.ctx.meta.policies.get(registryPolicyScope(registryKey), KIND);
    if (!p) throw new PolicyNotFound(`Registry policy does not exist in the registry with id '${accountOf(registryKey)}'`);
    return p.document;
  }

  async deleteRegistryPolicy(registryKey: RegistryKey): Promise<string> {
    const text = await this.registryPolicy(registryKey);
    await this.ctx.meta.policies.delete(registryPolicyScope(registryKey), KIND);
    this.ctx.authzChanges.bump();
    return text;
  }

  async registryPolicyScope(registryKey: RegistryKey): Promise<RegistryPolicyScope> {
    const v = await this.ctx.meta.registrySettings.get(registryKey, SCOPE_SETTING);
    return v !== undefined && JSON.parse(v) === 'V1' ? 'V1' : 'V2';
  }

  /** A registry policy put under V2 stays stored when switching to V1; it then governs only the V1 actions. */
  async setRegistryPolicyScope(registryKey: RegistryKey, scope: RegistryPolicyScope): Promise<void> {
    await this.ctx.meta.registrySettings.put(registryKey, SCOPE_SETTING, JSON.stringify(scope));
    this.ctx.authzChanges.bump();
  }

  /** The resource policies that govern a repository: its own and its registry's. */
  async governing(registryKey: RegistryKey, name: string | undefined): Promise<Policy[]> {
    const out: Policy[] = [];
    // A policy put before its principals were bound (no ids) matches them by ARN, as it did.
    const parse = (stored: { document: string; principalIds?: Record<string, string> }): Policy => {
      const policy = parsePolicy(stored.document, { kind: 'resource', maxLength: Number.MAX_SAFE_INTEGER, lenient: true });
      return stored.principalIds === undefined ? policy : { ...policy, principalIds: stored.principalIds };
    };
    const registry = await this.ctx.meta.policies.get(registryPolicyScope(registryKey), KIND);
    if (registry) {
      const policy = parse(registry);
      out.push((await this.registryPolicyScope(registryKey)) === 'V1' ? { ...policy, onlyActions: V1_ACTIONS } : policy);
    }
    const repository = name === undefined ? undefined : await this.ctx.meta.policies.get(repositoryPolicyScope(registryKey, name), KIND);
    if (repository) out.push(parse(repository));
    return out;
  }
}
