/** How policies are keyed: one scope string per repository and per registry. */
import { parseRegistryKey, registryKeyText, type RegistryKey } from '../core/registry-key.js';

const REPOSITORY = 'repository:';

export function repositoryPolicyScope(registryKey: RegistryKey, name: string): string {
  return `${REPOSITORY}${registryKeyText(registryKey)}/${name}`;
}

export function registryPolicyScope(registryKey: RegistryKey): string {
  return `registry:${registryKeyText(registryKey)}`;
}

/** The repository a repository policy scope names; undefined for any other scope. */
export function parseRepositoryPolicyScope(scope: string): { registryKey: RegistryKey; name: string } | undefined {
  if (!scope.startsWith(REPOSITORY)) return undefined;
  const rest = scope.slice(REPOSITORY.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  return { registryKey: parseRegistryKey(rest.slice(0, slash)), name: rest.slice(slash + 1) };
}
