/**
 * Who may read a repository's layers, for an automatic mount (`?mount=` without `from`): the spec
 * lets a blob be mounted from a repository the client has read access to, and a digest alone is
 * no such access. The same check a mount's `from` gets (ecr:GetDownloadUrlForLayer), made for
 * each repository the blob could come from.
 */
import { PUBLIC_REGION } from '../../core/arns.js';
import { accountOf, regionOf, type RegistryKey } from '../../core/registry-key.js';
import { AccessDenied } from '../authz.js';
import { requestConditions, type OciRequest } from './context.js';

export function layerReader(r: OciRequest, registryKey: RegistryKey): (repository: string) => Promise<boolean> {
  const region = regionOf(registryKey);
  // Anyone may read a public registry's repositories.
  if (region === PUBLIC_REGION) return async () => true;
  const target = { action: 'ecr:GetDownloadUrlForLayer', ...requestConditions(r), resourceAccountId: accountOf(registryKey), region };
  return async (repository) => {
    try {
      await r.authorizer.check(r.principal, { ...target, repository });
      return true;
    } catch (e) {
      if (e instanceof AccessDenied) return false;
      throw e;
    }
  };
}
