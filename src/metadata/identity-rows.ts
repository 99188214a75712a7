/** How users and access keys read back from either engine (pg is set to return BIGINT as numbers). */
import { customerPolicyArnSql } from './customer-policies.js';
import type { AccessKeyRecord, PrincipalPolicyRecord, UserRecord } from './identities.js';

export interface UserRow {
  account_id: string;
  name: string;
  user_id: string;
  path: string;
  permissions_boundary: string | null;
  /** JSON: [{Key, Value}] (migration 29). */
  tags: string;
  created_at: number;
}

export interface KeyRow {
  id: string;
  account_id: string;
  user_name: string | null;
  sealed_secret: string;
  status: string;
  created_at: number;
}

export const toUser = (r: UserRow): UserRecord => ({
  accountId: r.account_id,
  name: r.name,
  userId: r.user_id,
  path: r.path,
  ...(r.permissions_boundary !== null && r.permissions_boundary !== undefined && { permissionsBoundary: r.permissions_boundary }),
  tags: JSON.parse(r.tags) as UserRecord['tags'],
  createdAt: new Date(r.created_at),
});

export function toKey(r: KeyRow): AccessKeyRecord {
  const k: AccessKeyRecord = {
    id: r.id,
    accountId: r.account_id,
    sealedSecret: r.sealed_secret,
    status: r.status === 'Inactive' ? 'Inactive' : 'Active',
    createdAt: new Date(r.created_at),
  };
  if (r.user_name !== null) k.userName = r.user_name;
  return k;
}

/**
 * Each managed policy an account's users, roles and groups use, and how many use it each way, in one
 * query (the SQL both stores run); `account` is the account id's placeholder.
 */
export const managedPolicyUsageSql = (account: string) => `SELECT arn, SUM(attached) AS attachments, SUM(bounded) AS boundaries FROM (
  SELECT name AS arn, 1 AS attached, 0 AS bounded FROM user_policies WHERE account_id = ${account} AND kind = 'managed'
  UNION ALL SELECT name, 1, 0 FROM role_policies WHERE account_id = ${account} AND kind = 'managed'
  UNION ALL SELECT name, 1, 0 FROM iam_group_policies WHERE account_id = ${account} AND kind = 'managed'
  UNION ALL SELECT permissions_boundary, 0, 1 FROM users WHERE account_id = ${account} AND permissions_boundary IS NOT NULL
  UNION ALL SELECT permissions_boundary, 0, 1 FROM roles WHERE account_id = ${account} AND permissions_boundary IS NOT NULL
) uses GROUP BY arn`;

/**
 * A user's policies, its groups' and its boundary (or a role's and its boundary), each managed one
 * with the default document of the account's customer policy its ARN names (none for AWS's own or
 * an ARN naming nothing), in one statement; `ph(1)` the account, `ph(2)` the exact name.
 */
export function principalPoliciesSql(kind: 'user' | 'role', ph: (i: number) => string): string {
  const [a, n] = [ph(1), ph(2)];
  const own =
    kind === 'user'
      ? `SELECT kind, name, document FROM user_policies WHERE account_id = ${a} AND user_name = ${n}
         UNION ALL SELECT gp.kind, gp.name, gp.document FROM iam_group_members m
           JOIN iam_group_policies gp ON gp.account_id = m.account_id AND gp.group_name = m.group_name
           WHERE m.account_id = ${a} AND m.user_name = ${n}
         UNION ALL SELECT 'boundary', permissions_boundary, NULL FROM users WHERE account_id = ${a} AND name = ${n} AND permissions_boundary IS NOT NULL`
      : `SELECT kind, name, document FROM role_policies WHERE account_id = ${a} AND role_name = ${n}
         UNION ALL SELECT 'boundary', permissions_boundary, NULL FROM roles WHERE account_id = ${a} AND name = ${n} AND permissions_boundary IS NOT NULL`;
  return `SELECT p.kind, p.name, p.document, v.document AS managed_document FROM (${own}) p
    LEFT JOIN customer_policies cp ON p.kind <> 'inline' AND cp.account_id = ${a} AND ${customerPolicyArnSql('cp')} = p.name
    LEFT JOIN customer_policy_versions v ON v.account_id = cp.account_id AND v.policy_name = cp.name AND v.version = cp.default_version`;
}

export interface PrincipalPolicyRow {
  kind: string;
  name: string;
  document: string | null;
  managed_document: string | null;
}

export const toPrincipalPolicy = (r: PrincipalPolicyRow): PrincipalPolicyRecord => ({
  kind: r.kind === 'boundary' ? 'boundary' : r.kind === 'managed' ? 'managed' : 'inline',
  name: r.name,
  ...(r.document !== null && { document: r.document }),
  ...(r.managed_document !== null && { managedDocument: r.managed_document }),
});
