/**
 * iam:PassRole, asked of a caller who names a role for a service to use (a repository creation
 * template's customRoleArn), as IAM asks it: on the role's ARN, from identity policies alone,
 * with iam:PassedToService the service's principal. Berth never assumes the role; the check is
 * the permission ECR documents for naming it, so a policy that keeps a user from passing roles
 * holds here as it does on AWS.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { Codes } from '../core/errors.js';
import { deniedMessage } from '../iam/denial.js';
import type { Authorizer } from './authz.js';
import { requestOrigin } from './condition-keys/global.js';
import { EcrError } from './ecr/protocol.js';
import { noteDenied } from './request-facts.js';

const ACTION = 'iam:PassRole';
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\//;

export async function requirePassRole(
  authorizer: Authorizer,
  principal: Principal,
  req: IncomingMessage,
  target: { roleArn: string; region: string; passedToService: string; accountId: string },
): Promise<void> {
  const account = ROLE_ARN.exec(target.roleArn)?.[1];
  // Not a role's ARN, or a role of another account than the registry's: the action's own
  // validation refuses it (InvalidParameterException), and that is the answer to give.
  if (account !== target.accountId) return;
  const decision = await authorizer.decideOn(principal, {
    action: ACTION,
    arn: target.roleArn,
    resourceAccountId: account,
    region: target.region,
    origin: requestOrigin(req),
    context: { 'iam:PassedToService': target.passedToService },
  });
  if (decision.allowed) return;
  noteDenied(req, ACTION, target.roleArn);
  throw new EcrError(Codes.Denied, deniedMessage(principal.arn, ACTION, target.roleArn, decision));
}
