/**
 * What a pull-through cache rule asks of its creator before it may send a secret's credentials
 * to an upstream of their choosing (pullthrough/rules.ts, SecretUse): that they may read the
 * secret themselves, secretsmanager:GetSecretValue on it, judged as the Secrets Manager door
 * judges that call (the secret's tags and type as condition keys). Berth keeps no resource
 * policies on secrets, so another account's caller may never.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { Codes } from '../core/errors.js';
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';
import type { SecretUse } from '../pullthrough/rules.js';
import { requestOrigin } from './condition-keys/global.js';
import { secretResourceKeys } from './condition-keys/secrets.js';
import { EcrError } from './ecr/protocol.js';
import { noteDenied } from './request-facts.js';
import type { SecretsRouterOptions } from './secrets/router.js';

const ACTION = 'secretsmanager:GetSecretValue';

export function secretUse(secrets: SecretsRouterOptions['secrets'] | undefined, principal: Principal, req: IncomingMessage, registry: RegistryKey): SecretUse {
  const refuse = (arn: string, why: string) => {
    noteDenied(req, ACTION, arn);
    return new EcrError(Codes.Denied, `User: ${principal.arn} is not authorized to perform: ${ACTION} on resource: ${arn} ${why}`);
  };
  return {
    async check(arn) {
      const scope = { accountId: accountOf(registry), region: regionOf(registry) };
      if (!secrets || scope.accountId !== principal.accountId)
        throw refuse(arn, 'because no identity-based policy can allow it on a secret of another account');
      // A secret that is not there is the rule's own refusal (SecretNotFoundException).
      const doc = await secrets.service.describe(scope, arn).catch(() => undefined);
      if (!doc || doc.ARN !== arn) return;
      await secrets.authorizer
        .check(principal, {
          action: ACTION,
          resource: doc.ARN,
          origin: requestOrigin(req),
          region: scope.region,
          context: secretResourceKeys(doc, scope.region),
        })
        .catch((e: unknown) => {
          if (!(e instanceof EcrError)) throw e;
          noteDenied(req, ACTION, arn);
          throw new EcrError(Codes.Denied, e.message);
        });
    },
  };
}
