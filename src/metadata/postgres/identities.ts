/** Accounts, users, access keys and user policies on PostgreSQL (the twin of ../sqlite/identities.ts). */
import { boundaryExistsSql, setCustomerBoundarySql } from '../customer-policies.js';
import type { AccountRecord, IdentityStore, ManagedPolicyUsage } from '../identities.js';
import { USER_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, nameInAnyCase, pgPh } from '../iam-names.js';
import { createPostgresEntityPolicies } from './entity-policies.js';
import { changePostgresTags } from './entity-tags.js';
import {
  managedPolicyUsageSql,
  principalPoliciesSql,
  toKey,
  toPrincipalPolicy,
  toUser,
  type KeyRow,
  type PrincipalPolicyRow,
  type UserRow,
} from '../identity-rows.js';
import { changes, one, rows, withTransaction, type PgContext } from './pool.js';

interface AccountRow {
  id: string;
  name: string;
  created_at: number;
}

const toAccount = (r: AccountRow): AccountRecord => ({ id: r.id, name: r.name, createdAt: new Date(r.created_at) });

const USER_POLICIES_SQL = principalPoliciesSql('user', pgPh);
const ROLE_POLICIES_SQL = principalPoliciesSql('role', pgPh);
const INSERT_USER = insertUnlessNameTaken(
  'users',
  'account_id, name, user_id, path, permissions_boundary, created_at, tags'.split(', '),
  pgPh,
  boundaryExistsSql(pgPh(1), pgPh(5), ' FOR SHARE'),
);
const KEY_COLUMNS = 'id, account_id, user_name, sealed_secret, status, created_at';
const USER_COLUMNS = 'account_id, name, user_id, path, permissions_boundary, tags, created_at';

export function createPostgresIdentities(ctx: PgContext): IdentityStore {
  const { pool, collate } = ctx;
  const policies = createPostgresEntityPolicies(ctx, USER_POLICIES);
  return {
    async createAccount(a) {
      return (
        (await changes(pool, 'INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [a.id, a.name, a.now.getTime()])) > 0
      );
    },
    async account(id) {
      const r = await one<AccountRow>(pool, 'SELECT id, name, created_at FROM accounts WHERE id = $1', [id]);
      return r && toAccount(r);
    },
    async listAccounts() {
      return (await rows<AccountRow>(pool, `SELECT id, name, created_at FROM accounts ORDER BY id${collate}`)).map(toAccount);
    },
    async createUser(u) {
      // ON CONFLICT DO NOTHING covers every unique key (name in any case, user id), as SQLite's does.
      const n = await changes(pool, INSERT_USER, [
        u.accountId,
        u.name,
        u.userId,
        u.path,
        u.permissionsBoundary ?? null,
        u.now.getTime(),
        JSON.stringify(u.tags ?? []),
      ]);
      return n > 0;
    },
    async setUserBoundary(accountId, name, arn) {
      return (await changes(pool, 'UPDATE users SET permissions_boundary = $1 WHERE account_id = $2 AND name = $3', [arn, accountId, name])) > 0;
    },
    async setUserCustomerBoundary(accountId, name, arn) {
      return (await changes(pool, setCustomerBoundarySql('users', pgPh, ' FOR SHARE'), [accountId, name, arn])) > 0;
    },
    async changeUserTags(accountId, name, change) {
      return changePostgresTags(pool, 'users', accountId, name, change);
    },
    async user(accountId, name) {
      const r = await one<UserRow>(pool, `SELECT ${USER_COLUMNS} FROM users WHERE ${nameInAnyCase(pgPh)}`, [accountId, name]);
      return r && toUser(r);
    },
    async listUsers(accountId) {
      return (await rows<UserRow>(pool, `SELECT ${USER_COLUMNS} FROM users WHERE account_id = $1 ORDER BY name${collate}`, [accountId])).map(toUser);
    },
    async deleteUser(accountId, name) {
      // Keys have no foreign key to their user (root keys have none): they go in the same transaction.
      return withTransaction(pool, async (tx) => {
        await tx.query('DELETE FROM access_keys WHERE account_id = $1 AND user_name = $2', [accountId, name]);
        return (await changes(tx, 'DELETE FROM users WHERE account_id = $1 AND name = $2', [accountId, name])) > 0;
      });
    },
    async createAccessKey(k) {
      await pool.query('INSERT INTO access_keys (id, account_id, user_name, sealed_secret, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        k.id,
        k.accountId,
        k.userName ?? null,
        k.sealedSecret,
        k.status,
        k.now.getTime(),
      ]);
    },
    async accessKey(id) {
      const r = await one<KeyRow>(pool, `SELECT ${KEY_COLUMNS} FROM access_keys WHERE id = $1`, [id]);
      return r && toKey(r);
    },
    async listAccessKeys(accountId, userName) {
      const found =
        userName === undefined
          ? await rows<KeyRow>(pool, `SELECT ${KEY_COLUMNS} FROM access_keys WHERE account_id = $1 AND user_name IS NULL ORDER BY created_at, id`, [accountId])
          : await rows<KeyRow>(pool, `SELECT ${KEY_COLUMNS} FROM access_keys WHERE account_id = $1 AND user_name = $2 ORDER BY created_at, id`, [
              accountId,
              userName,
            ]);
      return found.map(toKey);
    },
    async setAccessKeyStatus(id, status) {
      return (await changes(pool, 'UPDATE access_keys SET status = $1 WHERE id = $2', [status, id])) > 0;
    },
    async deleteAccessKey(id) {
      return (await changes(pool, 'DELETE FROM access_keys WHERE id = $1', [id])) > 0;
    },
    putUserPolicy: policies.put,
    userPolicies: policies.list,
    deleteUserPolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
    async managedPolicyUsage(accountId) {
      return rows<ManagedPolicyUsage>(pool, managedPolicyUsageSql('$1'), [accountId]);
    },
    async principalPolicies(accountId, kind, name) {
      return (await rows<PrincipalPolicyRow>(pool, kind === 'user' ? USER_POLICIES_SQL : ROLE_POLICIES_SQL, [accountId, name])).map(toPrincipalPolicy);
    },
  };
}
