/**
 * IAM roles (their trust policies and permission policies) and the OIDC identity providers
 * web identities are federated through: the facts STS reads to mint temporary credentials.
 * Sessions themselves are not stored (see src/auth/session-token.ts).
 */
import type { TagChange, TagChangeOutcome } from './entity-tags.js';
import type { UserPolicyRecord } from './identities.js';

export interface RoleRecord {
  accountId: string;
  name: string;
  /** IAM's unique id (AROA...). */
  roleId: string;
  path: string;
  /** The trust policy (AssumeRolePolicyDocument), as given. */
  trustPolicy: string;
  description: string;
  /** Seconds, 3600..43200. */
  maxSessionDuration: number;
  tags: Array<{ Key: string; Value: string }>;
  /** The ARN of the managed policy set as the role's permissions boundary, if any. */
  permissionsBoundary?: string;
  createdAt: Date;
  /**
   * The unique ids of the IAM users and roles the trust policy names by ARN, as they were when it
   * was saved (IAM binds a principal's ARN to its id then), so one deleted and made again under
   * the name is not named. Absent for trust policies saved before Berth kept them.
   */
  trustPrincipalIds?: Record<string, string>;
}

/** Same shape as a user's: inline (name + document) or managed (ARN). */
export type RolePolicyRecord = UserPolicyRecord;

export interface OidcProviderRecord {
  accountId: string;
  /** The issuer URL as registered (https://host[:port][/path]). */
  url: string;
  clientIds: string[];
  thumbprints: string[];
  createdAt: Date;
}

export interface RoleStore {
  /** False when the name is taken (in any case) or the boundary names one of the account's customer policies that is gone. */
  createRole(r: Omit<RoleRecord, 'createdAt'> & { now: Date }): Promise<boolean>;
  role(accountId: string, name: string): Promise<RoleRecord | undefined>;
  listRoles(accountId: string): Promise<RoleRecord[]>;
  /** Updates the mutable fields; false when the role is gone. */
  updateRole(
    accountId: string,
    name: string,
    changes: Partial<Pick<RoleRecord, 'trustPolicy' | 'trustPrincipalIds' | 'description' | 'maxSessionDuration'>>,
  ): Promise<boolean>;
  /** Deletes the role with its policies. */
  deleteRole(accountId: string, name: string): Promise<boolean>;
  /** Sets (an ARN) or removes (null) the role's permissions boundary; false when the role is gone. */
  setRoleBoundary(accountId: string, name: string, arn: string | null): Promise<boolean>;
  /** Sets the account's customer policy `arn` as the boundary if it exists, atomically with DeletePolicy; false when the role or the policy is gone. */
  setRoleCustomerBoundary(accountId: string, name: string, arn: string): Promise<boolean>;
  /** TagRole/UntagRole's change in one transaction (entity-tags.ts): 'limit' past `max` tags, nothing changed; false when the role (its exact name) is gone. */
  changeRoleTags(accountId: string, name: string, change: TagChange): Promise<TagChangeOutcome>;

  putRolePolicy(accountId: string, roleName: string, p: RolePolicyRecord): Promise<void>;
  rolePolicies(accountId: string, roleName: string): Promise<RolePolicyRecord[]>;
  deleteRolePolicy(accountId: string, roleName: string, kind: 'inline' | 'managed', name: string): Promise<boolean>;
  /** Attaches the account's customer policy `arn` if it exists, atomically with DeletePolicy (entity-policies.ts); false when it does not. */
  attachCustomerPolicy(accountId: string, roleName: string, arn: string): Promise<boolean>;

  createOidcProvider(p: Omit<OidcProviderRecord, 'createdAt'> & { now: Date }): Promise<boolean>;
  oidcProvider(accountId: string, url: string): Promise<OidcProviderRecord | undefined>;
  listOidcProviders(accountId: string): Promise<OidcProviderRecord[]>;
  deleteOidcProvider(accountId: string, url: string): Promise<boolean>;
}

export interface RoleRow {
  account_id: string;
  name: string;
  role_id: string;
  path: string;
  trust_policy: string;
  description: string;
  max_session_duration: number;
  tags: string;
  permissions_boundary: string | null;
  created_at: number;
  trust_principal_ids: string | null;
}

export interface OidcProviderRow {
  account_id: string;
  url: string;
  client_ids: string;
  thumbprints: string;
  created_at: number;
}

/** A new role's row values in the order of RoleRow's columns (both engines insert them so). */
export const roleValues = (r: Omit<RoleRecord, 'createdAt'> & { now: Date }): unknown[] => [
  r.accountId,
  r.name,
  r.roleId,
  r.path,
  r.trustPolicy,
  r.description,
  r.maxSessionDuration,
  JSON.stringify(r.tags),
  r.permissionsBoundary ?? null,
  r.now.getTime(),
  r.trustPrincipalIds === undefined ? null : JSON.stringify(r.trustPrincipalIds),
];

export const toRole = (r: RoleRow): RoleRecord => ({
  accountId: r.account_id,
  name: r.name,
  roleId: r.role_id,
  path: r.path,
  trustPolicy: r.trust_policy,
  description: r.description,
  maxSessionDuration: Number(r.max_session_duration),
  tags: JSON.parse(r.tags) as Array<{ Key: string; Value: string }>,
  ...(r.permissions_boundary !== null && r.permissions_boundary !== undefined && { permissionsBoundary: r.permissions_boundary }),
  createdAt: new Date(Number(r.created_at)),
  ...(typeof r.trust_principal_ids === 'string' && { trustPrincipalIds: JSON.parse(r.trust_principal_ids) as Record<string, string> }),
});

export const toOidcProvider = (r: OidcProviderRow): OidcProviderRecord => ({
  accountId: r.account_id,
  url: r.url,
  clientIds: JSON.parse(r.client_ids) as string[],
  thumbprints: JSON.parse(r.thumbprints) as string[],
  createdAt: new Date(Number(r.created_at)),
});
