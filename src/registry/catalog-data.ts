/**
 * ECR Public's catalog data: what a public repository says about itself (description, usage,
 * platforms, a logo) and the registry's display name. Kept as documents beside the
 * repository's policies, so deleting the repository removes them with it.
 */
import { registryPolicyScope, repositoryPolicyScope } from '../metadata/policy-scopes.js';
import type { RegistryContext, RepoScope } from './context.js';
import { requireRepository } from './repositories.js';
import type { RegistryKey } from '../core/registry-key.js';

const KIND = 'catalog-data';

export interface RepositoryCatalogData {
  description?: string;
  architectures?: string[];
  operatingSystems?: string[];
  aboutText?: string;
  usageText?: string;
  /** The logo image, base64 as the API carries it; bounded by the API's input limits. */
  logoImageBlob?: string;
}

export interface RegistryCatalogData {
  displayName?: string;
}

export class CatalogData {
  constructor(private readonly ctx: RegistryContext) {}

  async repository(scope: RepoScope): Promise<RepositoryCatalogData> {
    await requireRepository(this.ctx, scope);
    return this.read(repositoryPolicyScope(scope.registryKey, scope.name));
  }

  /** Merges: fields left out keep their values, as PutRepositoryCatalogData does. */
  async setRepository(scope: RepoScope, data: RepositoryCatalogData): Promise<RepositoryCatalogData> {
    await requireRepository(this.ctx, scope);
    const key = repositoryPolicyScope(scope.registryKey, scope.name);
    const merged = { ...(await this.read<RepositoryCatalogData>(key)), ...data };
    await this.ctx.meta.policies.put(key, KIND, JSON.stringify(merged), this.ctx.clock.now());
    return merged;
  }

  registry(registryKey: RegistryKey): Promise<RegistryCatalogData> {
    return this.read(registryPolicyScope(registryKey));
  }

  async setRegistry(registryKey: RegistryKey, data: RegistryCatalogData): Promise<RegistryCatalogData> {
    const key = registryPolicyScope(registryKey);
    const merged = { ...(await this.read<RegistryCatalogData>(key)), ...data };
    await this.ctx.meta.policies.put(key, KIND, JSON.stringify(merged), this.ctx.clock.now());
    return merged;
  }

  private async read<T extends object>(key: string): Promise<T> {
    const doc = await this.ctx.meta.policies.get(key, KIND);
    return doc === undefined ? ({} as T) : (JSON.parse(doc.document) as T);
  }
}
