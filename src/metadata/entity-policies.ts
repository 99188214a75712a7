/**
 * The policies of a user, role or group: one table each (user_policies, role_policies,
 * iam_group_policies), all of one shape — a row per inline policy (its name and document) or
 * attached managed policy (its ARN as the name, no document), keyed by the owner's name. Each
 * engine reads and writes the three through one helper parameterized by these.
 */
import { customerPolicyArnSql } from './customer-policies.js';
import type { UserPolicyRecord } from './identities.js';

/** Where one kind of owner's policies are kept. */
export interface EntityPolicyTable {
  table: 'user_policies' | 'role_policies' | 'iam_group_policies';
  /** The column naming the owner (its name in the account). */
  owner: 'user_name' | 'role_name' | 'group_name';
}

export const USER_POLICIES: EntityPolicyTable = { table: 'user_policies', owner: 'user_name' };
export const ROLE_POLICIES: EntityPolicyTable = { table: 'role_policies', owner: 'role_name' };
export const GROUP_POLICIES: EntityPolicyTable = { table: 'iam_group_policies', owner: 'group_name' };

/** An owner's policies, as each engine implements them over its EntityPolicyTable. */
export interface EntityPolicies {
  /** Adds the policy, or replaces an inline one's document. */
  put(accountId: string, owner: string, p: UserPolicyRecord): Promise<void>;
  /** In (kind, name) order. */
  list(accountId: string, owner: string): Promise<UserPolicyRecord[]>;
  delete(accountId: string, owner: string, kind: 'inline' | 'managed', name: string): Promise<boolean>;
  /**
   * Attaches the account's customer policy `arn` names, in one statement with the check that it
   * exists (on PostgreSQL holding its row FOR SHARE until the attachment commits): a DeletePolicy
   * racing it either sees the attachment or deletes first, and then this attaches nothing (false).
   */
  attachCustomer(accountId: string, owner: string, arn: string): Promise<boolean>;
}

export interface EntityPolicyRow {
  kind: string;
  name: string;
  document: string | null;
}

export const toEntityPolicy = (r: EntityPolicyRow): UserPolicyRecord => {
  const p: UserPolicyRecord = { kind: r.kind === 'managed' ? 'managed' : 'inline', name: r.name };
  if (r.document !== null) p.document = r.document;
  return p;
};

/** The statements, with placeholders by `ph` (`?` or `$n`) and `collate` after the ORDER BY columns. */
export function entityPolicySql(
  { table, owner }: EntityPolicyTable,
  ph: (i: number) => string,
  engine: { collate?: string; lock?: string } = {},
): { put: string; list: string; delete: string; attachCustomer: string } {
  const collate = engine.collate ?? '';
  return {
    // Again: no change, but a row all the same (DO UPDATE), so that `changes` tells the policy was there.
    attachCustomer: `INSERT INTO ${table} (account_id, ${owner}, kind, name, document) SELECT ${ph(1)}, ${ph(2)}, 'managed', ${ph(3)}, NULL
       WHERE EXISTS (SELECT 1 FROM customer_policies cp WHERE cp.account_id = ${ph(1)} AND ${customerPolicyArnSql('cp')} = ${ph(3)}${engine.lock ?? ''})
       ON CONFLICT (account_id, ${owner}, kind, name) DO UPDATE SET document = excluded.document`,
    put: `INSERT INTO ${table} (account_id, ${owner}, kind, name, document) VALUES (${ph(1)}, ${ph(2)}, ${ph(3)}, ${ph(4)}, ${ph(5)})
       ON CONFLICT (account_id, ${owner}, kind, name) DO UPDATE SET document = excluded.document`,
    list: `SELECT kind, name, document FROM ${table} WHERE account_id = ${ph(1)} AND ${owner} = ${ph(2)} ORDER BY kind${collate}, name${collate}`,
    delete: `DELETE FROM ${table} WHERE account_id = ${ph(1)} AND ${owner} = ${ph(2)} AND kind = ${ph(3)} AND name = ${ph(4)}`,
  };
}
