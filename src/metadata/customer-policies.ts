/**
 * An account's customer managed policies (IAM's CreatePolicy) and their versions. Who uses one
 * is not kept here: attachments are user, role and group policy rows naming its ARN, boundaries
 * the users'/roles' permissions_boundary, which `usage` counts.
 */
import type { TagChange, TagChangeOutcome } from './entity-tags.js';

export interface CustomerPolicyRecord {
  accountId: string;
  name: string;
  /** IAM's unique id (ANPA...). */
  policyId: string;
  path: string;
  description: string;
  /** The default version's number (v1 is 1). */
  defaultVersion: number;
  tags: Array<{ Key: string; Value: string }>;
  createdAt: Date;
  updatedAt: Date;
}

export interface PolicyVersionRecord {
  version: number;
  document: string;
  createdAt: Date;
}

export type NewCustomerPolicy = Omit<CustomerPolicyRecord, 'defaultVersion' | 'createdAt' | 'updatedAt'> & { document: string; now: Date };

export interface CustomerPolicyStore {
  /** Creates the policy with its v1 as the default; false when the account has one by that name. */
  create(p: NewCustomerPolicy): Promise<boolean>;
  get(accountId: string, name: string): Promise<CustomerPolicyRecord | undefined>;
  list(accountId: string): Promise<CustomerPolicyRecord[]>;
  /** The versions, oldest first. */
  versions(accountId: string, name: string): Promise<PolicyVersionRecord[]>;
  /** The default version's document (undefined when there is no such policy). */
  defaultDocument(accountId: string, name: string): Promise<string | undefined>;
  /**
   * Adds a version (its number one past the last ever used) unless the policy already has
   * `max`: the number, 'limit', or undefined when the policy is gone. Atomic with the count.
   */
  addVersion(accountId: string, name: string, document: string, setDefault: boolean, max: number, now: Date): Promise<number | 'limit' | undefined>;
  /** Deletes a version that is not the default; false when there is none such. */
  deleteVersion(accountId: string, name: string, version: number): Promise<boolean>;
  /** Makes an existing version the default; false when the policy or version is gone. */
  setDefaultVersion(accountId: string, name: string, version: number, now: Date): Promise<boolean>;
  /** TagPolicy/UntagPolicy's change in one transaction (entity-tags.ts): 'limit' past `max` tags, nothing changed; false when the policy is gone. */
  changeTags(accountId: string, name: string, change: TagChange): Promise<TagChangeOutcome>;
  /** Deletes the policy with its versions. */
  delete(accountId: string, name: string): Promise<boolean>;
  /**
   * DeletePolicy's rule in one transaction: deletes the policy (named `arn`) with its one version
   * unless it is attached or a boundary ('attached') or has other versions ('versions');
   * undefined when it is gone. An attachment racing it (attachCustomer) is ordered before or
   * after, never lost between the check and the delete.
   */
  deleteIfUnused(accountId: string, name: string, arn: string): Promise<'deleted' | 'attached' | 'versions' | undefined>;
  /** How many of the account's users, roles and groups have `arn` attached, and users and roles as their boundary. */
  usage(accountId: string, arn: string): Promise<{ attachments: number; boundaries: number }>;
}

export interface CustomerPolicyRow {
  account_id: string;
  name: string;
  policy_id: string;
  path: string;
  description: string;
  default_version: number;
  tags: string;
  created_at: number;
  updated_at: number;
}

export const CUSTOMER_POLICY_COLUMNS = 'account_id, name, policy_id, path, description, default_version, tags, created_at, updated_at';

export const toCustomerPolicy = (r: CustomerPolicyRow): CustomerPolicyRecord => ({
  accountId: r.account_id,
  name: r.name,
  policyId: r.policy_id,
  path: r.path,
  description: r.description,
  defaultVersion: Number(r.default_version),
  tags: JSON.parse(r.tags) as Array<{ Key: string; Value: string }>,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

export const toPolicyVersion = (r: { version: number; document: string; created_at: number }): PolicyVersionRecord => ({
  version: Number(r.version),
  document: r.document,
  createdAt: new Date(Number(r.created_at)),
});

/** The new policy's row values in the order of CUSTOMER_POLICY_COLUMNS plus next_version (both engines insert them so). */
export const customerPolicyValues = (p: NewCustomerPolicy): unknown[] => [
  p.accountId,
  p.name,
  p.policyId,
  p.path,
  p.description,
  1,
  JSON.stringify(p.tags),
  p.now.getTime(),
  p.now.getTime(),
  2,
];

/** A customer policy row's ARN, as attachments and boundaries name it, in SQL (both engines' `||`); `t` is the row's alias. */
export const customerPolicyArnSql = (t: string): string => `'arn:aws:iam::' || ${t}.account_id || ':policy' || ${t}.path || ${t}.name`;

/**
 * Sets `ph(3)` as the boundary of the user or role (`ph(1)`, `ph(2)`) only if it names one of the
 * account's customer policies, in one statement (`lock`: FOR SHARE on PostgreSQL), so that it is
 * ordered with deleteIfUnused as an attachment is (entity-policies.ts's attachCustomer).
 */
export const setCustomerBoundarySql = (table: 'users' | 'roles', ph: (i: number) => string, lock = ''): string =>
  `UPDATE ${table} SET permissions_boundary = ${ph(3)} WHERE account_id = ${ph(1)} AND name = ${ph(2)}
   AND EXISTS (SELECT 1 FROM customer_policies cp WHERE cp.account_id = ${ph(1)} AND ${customerPolicyArnSql('cp')} = ${ph(3)}${lock})`;

/**
 * The condition a new user or role with boundary `b` (a placeholder) is inserted under: none, or
 * one not of account `a` (AWS's, checked by the caller), or one of the account's customer policies
 * that exists at that instant (`lock` as in setCustomerBoundarySql), so that a CreateUser or
 * CreateRole is ordered with deleteIfUnused too.
 */
export const boundaryExistsSql = (a: string, b: string, lock = ''): string => {
  // PostgreSQL cannot type a parameter that only IS NULL and LIKE see: the cast names it (both engines).
  const arn = `CAST(${b} AS TEXT)`;
  return `(${arn} IS NULL OR ${arn} NOT LIKE 'arn:aws:iam::' || ${a} || ':%'
    OR EXISTS (SELECT 1 FROM customer_policies cp WHERE cp.account_id = ${a} AND ${customerPolicyArnSql('cp')} = ${arn}${lock}))`;
};

/** Counts a policy's attachments and boundary uses in one statement (placeholders `?` or `$n` by `ph`). */
export const usageSql = (ph: (i: number) => string): string =>
  `SELECT
     (SELECT count(*) FROM user_policies WHERE account_id = ${ph(1)} AND kind = 'managed' AND name = ${ph(2)})
       + (SELECT count(*) FROM role_policies WHERE account_id = ${ph(1)} AND kind = 'managed' AND name = ${ph(2)})
       + (SELECT count(*) FROM iam_group_policies WHERE account_id = ${ph(1)} AND kind = 'managed' AND name = ${ph(2)}) AS attachments,
     (SELECT count(*) FROM users WHERE account_id = ${ph(1)} AND permissions_boundary = ${ph(2)})
       + (SELECT count(*) FROM roles WHERE account_id = ${ph(1)} AND permissions_boundary = ${ph(2)}) AS boundaries`;
