/**
 * Repository and registry policies: validated as IAM resource policies when set, read back as
 * stored, and handed to authorization as parsed documents.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { parsePolicy, PolicyError, type Policy } from '../iam/policy.js';
import { registryPolicyScope, repositoryPolicyScope } from '../metadata/policy-scopes.js';
import { accountOf, type RegistryContext, type RepoScope } from './context.js';
import { requireRepository } from './repositories.js';

const MAX_POLICY_CHARS = 10240;
const KIND = 'access';

export class PolicyNotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyNotFound';
  }
}

function validate(text: string, what: 'repository' | 'registry'): void {
  try {
    parsePolicy(text, { kind: 'resource', maxLength: MAX_POLICY_CHARS });
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    throw new RegistryError(
      Codes.InvalidParameter,
      `Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid ${what} policy provided' (${e.message})`,
    );
  }
}

export class Policies {
  constructor(private readonly ctx: RegistryContext) {}

  async setRepositoryPolicy(scope: RepoScope, text: string): Promise<void> {
    validate(text, 'repository');
    await requireRepository(this.ctx, scope);
    await this.ctx.meta.policies.put(repositoryPolicyScope(scope.registryId, scope.name), KIND, text, this.ctx.clock.now());
    this.ctx.authzChanges.bump();
  }

  async repositoryPolicy(scope: RepoScope): Promise<string> {
    await requireRepository(this.ctx, scope);
    const p = await this.ctx.meta.policies.get(repositoryPolicyScope(scope.registryId, scope.name), KIND);
    if (!p) {
      throw new PolicyNotFound(
        `Repository policy does not exist for the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryId)}'`,
      );
    }
    return p.document;
  }

  async deleteRepositoryPolicy(scope: RepoScope): Promise<string> {
    const text = await this.repositoryPolicy(scope);
    await this.ctx.meta.policies.delete(repositoryPolicyScope(scope.registryId, scope.name), KIND);
    this.ctx.authzChanges.bump();
    return text;
  }

  async setRegistryPolicy(registryId: string, text: string): Promise<void> {
    validate(text, 'registry');
    await this.ctx.meta.policies.put(registryPolicyScope(registryId), KIND, text, this.ctx.clock.now());
    this.ctx.authzChanges.bump();
  }

  async registryPolicy(registryId: string): Promise<string> {
    const p = await this.ctx.meta.policies.get(registryPolicyScope(registryId), KIND);
    if (!p) throw new PolicyNotFound(`Registry policy does not exist in the registry with id '${accountOf(registryId)}'`);
    return p.document;
  }

  async deleteRegistryPolicy(registryId: string): Promise<string> {
    const text = await this.registryPolicy(registryId);
    await this.ctx.meta.policies.delete(registryPolicyScope(registryId), KIND);
    this.ctx.authzChanges.bump();
    return text;
  }

  /** The resource policies that govern a repository: its own and its registry's. */
  async governing(registryId: string, name: string | undefined): Promise<Policy[]> {
    const scopes = [registryPolicyScope(registryId), ...(name !== undefined ? [repositoryPolicyScope(registryId, name)] : [])];
    const out: Policy[] = [];
    for (const s of scopes) {
      const p = await this.ctx.meta.policies.get(s, KIND);
      if (p) out.push(parsePolicy(p.document, { kind: 'resource', maxLength: Number.MAX_SAFE_INTEGER, lenient: true }));
    }
    return out;
  }
}
