/** How users and access keys read back from either engine (pg is set to return BIGINT as numbers). */
import type { AccessKeyRecord, UserRecord } from './identities.js';

export interface UserRow {
  account_id: string;
  name: string;
  user_id: string;
  path: string;
  permissions_boundary: string | null;
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
