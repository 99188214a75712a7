/**
 * Who a request acts as, shared by auth (which establishes it) and iam (which judges it). ARNs
 * have IAM's shapes, so policies written for AWS name Berth's principals unchanged.
 */
import { parsePolicy, type Policy } from '../iam/policy.js';
import type { SessionClaims } from './session-token.js';

interface Tag {
  Key: string;
  Value: string;
}

export interface Principal {
  /** For an assumed role, the session's `arn:aws:sts::<acct>:assumed-role/<role>/<session>`. */
  arn: string;
  /** The 12-digit account; '' for anonymous requests, which belong to no account. */
  accountId: string;
  /** 'role': a session of an assumed role (temporary credentials from STS). */
  kind: 'root' | 'user' | 'role' | 'anonymous';
  userName?: string;
  /**
   * An IAM user's unique id (AIDA...), when the user was read: its login tokens and
   * GetSessionToken sessions carry it, so a user deleted and made again under the name (another
   * user) inherits none of them.
   */
  userId?: string;
  /** The access key that signed the request, when SigV4 was used. */
  accessKeyId?: string;
  /** Set when the request was signed with temporary credentials (see auth/session-token.ts). */
  session?: SessionFacts;
  /** aws:PrincipalArn when it is not `arn` (an assumed role's is the role's ARN). */
  principalArn?: string;
  /** aws:PrincipalTag/<key>: an assumed role's session tags (with the role's), or an IAM user's tags. */
  principalTags?: Record<string, string>;
  /** Policies that bound this principal's identity policies (an inline session policy). */
  sessionPolicies?: Policy[];
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

/** What temporary credentials stand for, beyond the principal's ARN. */
export interface SessionFacts {
  /** The sealed session token, so a login token minted from it can carry it (login-token.ts). */
  token: string;
  expiresAt: Date;
  /** When STS issued the credentials: aws:TokenIssueTime. */
  issuedAt: Date;
  /** Set for an assumed role. */
  role?: { name: string; path: string; roleId: string; sessionName: string };
  /** The session's managed session policies (PolicyArns), which the authenticator reads into sessionPolicies. */
  policyArns?: string[];
  /** A role session's source identity (aws:SourceIdentity), which sessions chained from it keep. */
  sourceIdentity?: string;
  /** The session tags sessions chained from this one inherit. */
  transitiveTags?: Record<string, string>;
}

/** `arn:aws:iam::<account>:role<path><name>`. */
export function roleArn(accountId: string, roleName: string, path = '/'): string {
  return `arn:aws:iam::${accountId}:role${path}${roleName}`;
}

/** `arn:aws:sts::<account>:assumed-role/<role>/<session>` (no path, as STS writes it). */
export function assumedRoleArn(accountId: string, roleName: string, sessionName: string): string {
  return `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`;
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

export function userPrincipal(accountId: string, userName: string, path = '/', accessKeyId?: string, tags: readonly Tag[] = []): Principal {
  return withUserTags(
    {
      arn: userArn(accountId, userName, path),
      accountId,
      kind: 'user',
      userName,
      ...(accessKeyId !== undefined && { accessKeyId }),
    },
    tags,
  );
}

/**
 * `p` with an IAM user's tags as its aws:PrincipalTag/* (as IAM sets them for the user's own
 * credentials and its GetSessionToken sessions; a role it assumes gets the role's and session tags
 * only). No tags, no key: a condition on one then finds it absent.
 */
export function withUserTags(p: Principal, tags: readonly Tag[]): Principal {
  return tags.length === 0 ? p : { ...p, principalTags: Object.fromEntries(tags.map((t) => [t.Key, t.Value])) };
}

/** The principal of an access key: the account root when the key has no user. */
export function principalForKey(key: {
  id: string;
  accountId: string;
  userName?: string;
  userPath?: string;
  userTags?: readonly Tag[];
  userId?: string;
}): Principal {
  if (key.userName === undefined) return rootPrincipal(key.accountId, key.id);
  const p = userPrincipal(key.accountId, key.userName, key.userPath ?? '/', key.id, key.userTags);
  return key.userId === undefined ? p : { ...p, userId: key.userId };
}

/** GetSessionToken's longest session (36 hours); AssumeRole's are shorter. */
const LONGEST_SESSION_MS = 129_600_000;

export const anonymousPrincipal: Readonly<Principal> = Object.freeze<Principal>({ arn: 'anonymous', accountId: '', kind: 'anonymous' });

/**
 * The principal temporary credentials stand for: an assumed role's session (its ARN, the
 * role's ARN as aws:PrincipalArn, its session tags and session policy), or the user or root
 * that called GetSessionToken.
 */
export function principalForSession(token: string, c: SessionClaims): Principal {
  const s = c.subject;
  // A token sealed before Berth kept its issue time: the earliest it can have been issued (the
  // longest session STS gives, before its expiry), so a policy refusing sessions issued before a
  // revocation time refuses it too.
  const issuedAt = c.issuedAt ?? new Date(c.expiresAt.getTime() - LONGEST_SESSION_MS);
  if (s.kind === 'root') return { ...rootPrincipal(c.accountId, c.accessKeyId), session: { token, expiresAt: c.expiresAt, issuedAt } };
  if (s.kind === 'user')
    return {
      ...userPrincipal(c.accountId, s.userName, s.userPath, c.accessKeyId),
      ...(s.userId !== undefined && { userId: s.userId }),
      session: { token, expiresAt: c.expiresAt, issuedAt },
    };
  const p: Principal = {
    arn: assumedRoleArn(c.accountId, s.roleName, s.sessionName),
    accountId: c.accountId,
    kind: 'role',
    accessKeyId: c.accessKeyId,
    principalArn: roleArn(c.accountId, s.roleName, s.rolePath),
    session: {
      token,
      expiresAt: c.expiresAt,
      issuedAt,
      role: { name: s.roleName, path: s.rolePath, roleId: s.roleId, sessionName: s.sessionName },
      ...(c.policyArns !== undefined && c.policyArns.length > 0 && { policyArns: c.policyArns }),
      ...(c.sourceIdentity !== undefined && { sourceIdentity: c.sourceIdentity }),
      ...(c.transitiveTags !== undefined && { transitiveTags: c.transitiveTags }),
    },
  };
  if (c.tags !== undefined) p.principalTags = c.tags;
  if (c.policy !== undefined) {
    // Validated when the session was made; one that no longer parses allows nothing.
    try {
      p.sessionPolicies = [parsePolicy(c.policy, { kind: 'identity', maxLength: 1_000_000, lenient: true })];
    } catch {
      p.sessionPolicies = [{ statements: [] }];
    }
  }
  return p;
}
