/**
 * Which registry a /v2 request addresses. Another account's private registry when the host or
 * the fallback path names it (../registry-address.ts). Else `/v2/<account-id>/<name>/...` is the
 * public repository `<name>` of that account's ECR Public registry when one exists (its alias is
 * the account id), readable by anyone, unless the caller's own private registry has a repository
 * of that whole name; everything else is the private registry of the login token's account.
 * Private registries need a login.
 */
import type { Principal } from '../../auth/principal.js';
import { PUBLIC_REGION } from '../../core/arns.js';
import { Codes, RegistryError } from '../../core/errors.js';
import { registryKey, type RegistryKey } from '../../core/registry-key.js';
import type { Registry } from '../../registry/registry.js';
import type { V2Target } from '../registry-address.js';
import { parseOciRoute } from './route.js';

export interface V2Address {
  registryKey: RegistryKey;
  publicAlias?: string;
}

/**
 * A registry named by account is private and reached only through policies: the authorizer
 * then needs both the caller's identity policy and the repository's policy when the account is
 * another's. The public form applies only where no account is named.
 */
export async function addressV2(registry: Registry, principal: Principal, target: V2Target, region: string): Promise<V2Address> {
  // A peer region's replication push addresses the destination registry its token names.
  if (principal.replication) return { registryKey: registryKey(principal.replication.destinationAccountId, region) };
  const { path } = target;
  if (target.accountId === undefined) {
    const alias = /^(\d{12})\//.exec(path)?.[1];
    if (alias !== undefined) {
      const route = parseOciRoute(path);
      if (route !== undefined && 'name' in route && route.name.startsWith(`${alias}/`)) {
        // A private repository may be named `<12 digits>/...` (ECR allows it). The caller's own one
        // wins: else whichever account has those digits for its id could, by making a public
        // repository of the rest of the name, serve its images to the caller's pulls. Both are
        // asked at once: on PostgreSQL each is a round trip, and a logged-in pull of a public image
        // waited for two in a row. Neither answer is cached: a repository made on another node
        // must be seen at once, and nodes tell each other nothing.
        const publicKey = registryKey(alias, PUBLIC_REGION);
        const [own, published] = await Promise.all([
          principal.kind !== 'anonymous' && registry.repositories.exists({ registryKey: registryKey(principal.accountId, region), name: route.name }),
          registry.repositories.exists({ registryKey: publicKey, name: route.name.slice(alias.length + 1) }),
        ]);
        if (!own && published) return { registryKey: publicKey, publicAlias: alias };
      }
    }
  }
  if (principal.kind === 'anonymous') throw new RegistryError(Codes.Unauthorized, 'authentication required');
  return { registryKey: registryKey(target.accountId ?? principal.accountId, region) };
}
