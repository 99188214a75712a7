/**
 * Managed signing signs "using the identity of the entity pushing the image" (ECR user guide):
 * a push is signed with a profile only when its pusher may `signer:SignPayload` on it. Both front
 * doors that push (/v2's manifest PUT, ECR's PutImage) hand the registry core this decision.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../auth/principal.js';
import { parseSigningProfileArn } from '../../core/arns.js';
import type { MaySign } from '../../registry/signing.js';
import type { Authorizer } from '../authz.js';
import { requestOrigin } from '../condition-keys/global.js';

export function maySignAs(authorizer: Authorizer, principal: Principal, req: IncomingMessage): MaySign {
  const origin = requestOrigin(req);
  return async (arn) => {
    const profile = parseSigningProfileArn(arn);
    if (!profile) return false;
    return authorizer.allowsOn(principal, { action: 'signer:SignPayload', arn, resourceAccountId: profile.accountId, region: profile.region, origin });
  };
}
