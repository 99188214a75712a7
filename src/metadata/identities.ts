/**
 * Accounts, users, their access keys and their policies: the facts authentication and
 * authorization read. Access key secrets are stored sealed (encrypted under the server key),
 * never in clear: SigV4 needs the plaintext to verify an HMAC, so they cannot be hashed.
 */
import type { TagChange, TagChangeOutcome } from './entity-tags.js';

export interface AccountRecord {
  id: string;
  name: string;
  createdAt: Date;
}

export interface UserRecord {
  accountId: string;
  name: string;
  /** IAM's unique id (AIDA...). */
  userId: string;
  path: string;
  /** The ARN of the managed policy set as the user's permissions boundary, if any. */
  permissionsBoundary?: string;
  /** IAM's tags on the user (at most 50): its aws:PrincipalTag/* and, acted on, its aws:ResourceTag/*. */
  tags: Array<{ Key: string; Value: string }>;
  createdAt: Date;
}

export interface AccessKeyRecord {
  id: string;
  accountId: string;
  /** Undefined for the account's root key. */
  userName?: string;
  sealedSecret: string;
  status: 'Active' | 'Inactive';
  createdAt: Date;
}

export interface UserPolicyRecord {
  kind: 'inline' | 'managed';
  /** Inline: the policy name; managed: the policy ARN. */
  name: string;
  /** Inline documents only. */
  document?: string;
}

/**
 * One of a user's or role's policies as the evaluator reads them all at once: inline (with its
 * document), managed (its ARN; with a customer policy's default document when the ARN names one of
 * the account's), or the permissions boundary (likewise).
 */
export interface PrincipalPolicyRecord {
  kind: 'inline' | 'managed' | 'boundary';
  name: string;
  document?: string;
  /** A customer managed policy's default version (managed and boundary rows). */
  managedDocument?: string;
}

/** How an account's users and roles use one managed policy (IAM's AttachmentCount, PermissionsBoundaryUsageCount). */
export interface ManagedPolicyUsage {
  arn: string;
  attachments: number;
  boundaries: number;
}

export interface IdentityStore {
  createAccount(a: { id: string; name: string; now: Date }): Promise<boolean>;
  account(id: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;

  /** False when the name is taken (in any case) or the boundary names one of the account's customer policies that is gone. */
  createUser(u: Omit<UserRecord, 'createdAt' | 'tags'> & { tags?: UserRecord['tags']; now: Date }): Promise<boolean>;
  user(accountId: string, name: string): Promise<UserRecord | undefined>;
  listUsers(accountId: string): Promise<UserRecord[]>;
  /** Deletes the user with its keys and policies. */
  deleteUser(accountId: string, name: string): Promise<boolean>;
  /** Sets (an ARN) or removes (null) the user's permissions boundary; false when the user is gone. */
  setUserBoundary(accountId: string, name: string, arn: string | null): Promise<boolean>;
  /** Sets the account's customer policy `arn` as the boundary if it exists, atomically with DeletePolicy; false when the user or the policy is gone. */
  setUserCustomerBoundary(accountId: string, name: string, arn: string): Promise<boolean>;
  /**
   * Adds `add` (a key already there takes the new value; keys compare without regard to case, as
   * IAM's do) and removes `remove`, in one transaction, unless the user would then have more than
   * `max` tags: 'limit', nothing changed. False when the user (its exact name) is gone.
   */
  changeUserTags(accountId: string, name: string, change: TagChange): Promise<TagChangeOutcome>;

  createAccessKey(k: Omit<AccessKeyRecord, 'createdAt'> & { now: Date }): Promise<void>;
  accessKey(id: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]>;
  setAccessKeyStatus(id: string, status: 'Active' | 'Inactive'): Promise<boolean>;
  deleteAccessKey(id: string): Promise<boolean>;

  putUserPolicy(accountId: string, userName: string, p: UserPolicyRecord): Promise<void>;
  userPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]>;
  deleteUserPolicy(accountId: string, userName: string, kind: 'inline' | 'managed', name: string): Promise<boolean>;
  /** Attaches the account's customer policy `arn` if it exists, atomically with DeletePolicy (entity-policies.ts); false when it does not. */
  attachCustomerPolicy(accountId: string, userName: string, arn: string): Promise<boolean>;
  /**
   * The policies of the user `name` (exactly: a principal's name) with its groups', or of the
   * role, and its boundary, customer policies' default documents joined in: one query, whatever
   * the number of groups and policies (an authorization cache miss).
   */
  principalPolicies(accountId: string, kind: 'user' | 'role', name: string): Promise<PrincipalPolicyRecord[]>;
  /** Every managed policy an account's users and roles use, with its counts, in one query: ListPolicies' usage. */
  managedPolicyUsage(accountId: string): Promise<ManagedPolicyUsage[]>;
}
