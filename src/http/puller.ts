/**
 * The ARN a pull is recorded under, for pull-time update exclusions: an IAM user's, or for a
 * role session the role's (aws:PrincipalArn), never the session's assumed-role ARN; none for
 * the root user, anonymous pulls and a peer's replication, which no exclusion can name.
 */
import type { Principal } from '../auth/principal.js';

export function pullerArn(principal: Principal): string | undefined {
  if (principal.replication) return undefined;
  if (principal.kind === 'user') return principal.arn;
  if (principal.kind === 'role') return principal.principalArn;
  return undefined;
}
