/**
 * Who a request acts as, shared by auth (which establishes it) and iam (which judges it). ARNs
 * have IAM's shapes, so policies written for AWS name Berth's principals unchanged.
 */

export interface Principal {
  arn: string;
  /** The 12-digit account; '' for anonymous requests, which belong to no account. */
  accountId: string;
  kind: 'root' | 'user' | 'anonymous';
  userName?: string;
  /** The access key that signed the request, when SigV4 was used. */
  accessKeyId?: string;
  /**
   * Set for a peer region's replication push (auth/replication-token.ts): the principal is the
   * source account's root, admitted only to push into this one destination repository.
   */
  replication?: ReplicationScope;
}

export interface ReplicationScope {
  sourceRegion: string;
  destinationAccountId: string;
  destinationRegion: string;
  repository: string;
}

/** `arn:aws:iam::<account>:user<path><name>`; the path starts and ends with '/'. */
export function userArn(accountId: string, userName: string, path = '/'): string {
  if (!path.startsWith('/') || !path.endsWith('/')) throw new Error(`an IAM path must begin and end with '/': ${path}`);
  return `arn:aws:iam::${accountId}:user${path}${userName}`;
}

export function rootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

export function rootPrincipal(accountId: string, accessKeyId?: string): Principal {
  return { arn: rootArn(accountId), accountId, kind: 'root', ...(accessKeyId !== undefined && { accessKeyId }) };
}

export function userPrincipal(accountId: string, userName: string, path = '/', accessKeyId?: string): Principal {
  return {
    arn: userArn(accountId, userName, path),
    accountId,
    kind: 'user',
    userName,
    ...(accessKeyId !== undefined && { accessKeyId }),
  };
}

/** The principal of an access key: the account root when the key has no user. */
export function principalForKey(key: { id: string; accountId: string; userName?: string; userPath?: string }): Principal {
  return key.userName === undefined ? rootPrincipal(key.accountId, key.id) : userPrincipal(key.accountId, key.userName, key.userPath ?? '/', key.id);
}

export const anonymousPrincipal: Readonly<Principal> = Object.freeze<Principal>({ arn: 'anonymous', accountId: '', kind: 'anonymous' });
