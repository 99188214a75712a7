/**
 * The role an API destination target names (its RoleArn), as EventBridge uses it: the guide
 * ("Creating rules that send events to an API destination") says "To use an API destination as
 * a target, you must provide an IAM role with the correct permissions", that is
 * events:InvokeApiDestination on the destination; and whoever names a role for a service passes
 * it (iam:PassRole, with iam:PassedToService events.amazonaws.com). So a caller who may put
 * targets on its own rule cannot send events, its own Input, and another team's connection
 * credentials to that team's API destination unless it may pass a role that may invoke it.
 * The role's permission is judged at each delivery (the deliverer asks `mayInvoke`), so a
 * policy changed later counts; PutTargets asks for the role and for iam:PassRole.
 */
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import type { MayInvoke } from '../../events/destination-sender.js';
import type { KmsAuthorizer } from '../kms/authz.js';
import { roleAccountOf, serviceRoleSession } from '../role-session.js';
import { KmsCodes } from '../../core/errors.js';
import { EcrError } from '../ecr/protocol.js';

/** The service EventBridge targets' roles are passed to. */
export const EVENTS_SERVICE = 'events.amazonaws.com';
const SESSION = 'eventbridge-api-destination';

/** Why an API destination target of `accountId` cannot be put with `roleArn`; undefined when it can. */
export function targetRoleProblem(roleArn: string | undefined, accountId: string): string | undefined {
  if (roleArn === undefined) return 'An API destination target needs a RoleArn: the role EventBridge invokes it with (events:InvokeApiDestination).';
  if (roleAccountOf(roleArn) !== accountId) return `RoleArn ${roleArn.slice(0, 256)} is not a role of this account.`;
  return undefined;
}

/** The deliverer's check: the target's role, of the destination's account, may events:InvokeApiDestination on it. */
export function apiDestinationInvoker(authorizer: KmsAuthorizer, identities: IdentityAdmin, region: string): MayInvoke {
  return async (roleArn, destinationArn, ruleArn) => {
    if (roleAccountOf(roleArn) !== destinationArn.split(':')[4]) return false;
    // EventBridge assumes the role: its trust policy must let events.amazonaws.com, for the destination's account.
    const role = await serviceRoleSession(identities, roleArn, SESSION, {
      service: EVENTS_SERVICE,
      sourceAccount: destinationArn.split(':')[4]!,
      ...(ruleArn !== undefined && { sourceArn: ruleArn }),
    });
    if (!role) return false;
    // EventBridge calls from within AWS, over TLS, from no client's address.
    return authorizer.check(role, { action: 'events:InvokeApiDestination', resource: destinationArn, origin: { secureTransport: true }, region }).then(
      () => true,
      (e: unknown) => {
        if (e instanceof EcrError && e.type === KmsCodes.AccessDenied.code) return false;
        throw e;
      },
    );
  };
}
