/**
 * Whether what a console session was signed in with still stands, asked at each of its calls:
 * an access key still active (and its user still there), temporary credentials still valid
 * (their role or user still there), a user still the same user (not deleted and made again)
 * with the console password it signed in with still set (not deleted, not changed). The same
 * checks as a signed request's, from authn.ts.
 */
import type { BasisCheck } from '../../auth/console-sessions.js';
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import { userPrincipal } from '../../auth/principal.js';
import type { Authenticator } from '../authn.js';

export function sessionBasisCheck(authenticator: Authenticator, identities: IdentityAdmin): BasisCheck {
  return async (accountId, basis) => {
    if (basis.kind === 'password') {
      const user = await identities.userRecord(accountId, basis.userName);
      if (!user || user.userId !== basis.userId) return undefined;
      const stamp = await identities.loginProfiles?.stamp(accountId, user.name);
      if (stamp === undefined || (basis.password !== undefined && basis.password !== stamp)) return undefined;
      // Its tags as they are now: a console session's calls carry them as aws:PrincipalTag/*.
      return { ...userPrincipal(accountId, user.name, user.path, undefined, user.tags), userId: user.userId };
    }
    const principal = await authenticator.principalOfKey(basis.accessKeyId, basis.kind === 'temporary' ? basis.sessionToken : undefined);
    return principal?.accountId === accountId ? principal : undefined;
  };
}
