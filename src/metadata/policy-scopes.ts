/** How policies are keyed: one scope string per repository and per registry. */

export function repositoryPolicyScope(registryId: string, name: string): string {
  return `repository:${registryId}/${name}`;
}

export function registryPolicyScope(registryId: string): string {
  return `registry:${registryId}`;
}
