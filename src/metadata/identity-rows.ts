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
