/**
 * What the pull-through cache asks of a caller before it imports from upstream, as ECR asks it:
 * ecr:BatchImportUpstreamImage on the repository, and ecr:CreateRepository too when the pull
 * creates it. Pulls of what is cached need only the ordinary pull actions, checked before.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { Codes, RegistryError } from '../core/errors.js';
import { accountOf, regionOf } from '../core/registry-key.js';
import type { ImportAccess } from '../pullthrough/cache.js';
import type { RepoScope } from '../registry/context.js';
import { AccessDenied, type Authorizer } from './authz.js';
import { requestOrigin } from './condition-keys/global.js';
import { noteDenied } from './request-facts.js';

export function importAccess(authorizer: Authorizer, principal: Principal, req: IncomingMessage, scope: RepoScope): ImportAccess {
  const require = async (createsRepository: boolean) => {
    const actions = [...(createsRepository ? ['ecr:CreateRepository'] : []), 'ecr:BatchImportUpstreamImage'];
    for (const action of actions) {
      await authorizer.check(principal, {
        action,
        resourceAccountId: accountOf(scope.registryKey),
        region: regionOf(scope.registryKey),
        repository: scope.name,
        origin: requestOrigin(req),
      });
    }
  };
  return {
    async check(createsRepository) {
      try {
        await require(createsRepository);
      } catch (e) {
        if (!(e instanceof AccessDenied)) throw e;
        noteDenied(req, e.action, e.resource);
        throw new RegistryError(Codes.Denied, e.message);
      }
    },
    async allows(createsRepository) {
      try {
        await require(createsRepository);
        return true;
      } catch (e) {
        // Not a refusal of the request (it is served without the import): nothing to note.
        if (e instanceof AccessDenied) return false;
        throw e;
      }
    },
  };
}
