/** Accounts, users, access keys and user policies on SQLite. */
import { boundaryExistsSql, setCustomerBoundarySql } from '../customer-policies.js';
import type { AccountRecord, IdentityStore, ManagedPolicyUsage } from '../identities.js';
import { USER_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, named, nameInAnyCase, sqlitePh } from '../iam-names.js';
import { createSqliteEntityPolicies } from './entity-policies.js';
import { sqliteTagChanger } from './entity-tags.js';
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
import type { Db } from './open.js';

const USER_COLUMNS = ['account_id', 'name', 'user_id', 'path', 'permissions_boundary', 'created_at', 'tags'];

export function createSqliteIdentities(db: Db): IdentityStore {
  const q = {
    insertAccount: db.prepare('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    account: db.prepare<[string], { id: string; name: string; created_at: number }>('SELECT * FROM accounts WHERE id = ?'),
    accounts: db.prepare<[], { id: string; name: string; created_at: number }>('SELECT * FROM accounts ORDER BY id'),
    insertUser: db.prepare(insertUnlessNameTaken('users', USER_COLUMNS, sqlitePh, boundaryExistsSql(sqlitePh(1), sqlitePh(5)))),
    setBoundary: db.prepare('UPDATE users SET permissions_boundary = ? WHERE account_id = ? AND name = ?'),
    setCustomerBoundary: db.prepare(setCustomerBoundarySql('users', sqlitePh)),
    user: db.prepare<Record<string, unknown>, UserRow>(`SELECT * FROM users WHERE ${nameInAnyCase(sqlitePh)}`),
    users: db.prepare<[string], UserRow>('SELECT * FROM users WHERE account_id = ? ORDER BY name'),
    deleteUser: db.prepare('DELETE FROM users WHERE account_id = ? AND name = ?'),
    deleteUserKeys: db.prepare('DELETE FROM access_keys WHERE account_id = ? AND user_name = ?'),
    insertKey: db.prepare('INSERT INTO access_keys (id, account_id, user_name, sealed_secret, status, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    key: db.prepare<[string], KeyRow>('SELECT * FROM access_keys WHERE id = ?'),
    userKeys: db.prepare<[string, string], KeyRow>('SELECT * FROM access_keys WHERE account_id = ? AND user_name = ? ORDER BY created_at'),
    rootKeys: db.prepare<[string], KeyRow>('SELECT * FROM access_keys WHERE account_id = ? AND user_name IS NULL ORDER BY created_at'),
    keyStatus: db.prepare('UPDATE access_keys SET status = ? WHERE id = ?'),
    deleteKey: db.prepare('DELETE FROM access_keys WHERE id = ?'),
    policyUsage: db.prepare<{ a: string }, ManagedPolicyUsage>(managedPolicyUsageSql('@a')),
    userPolicies: db.prepare<Record<string, unknown>, PrincipalPolicyRow>(principalPoliciesSql('user', sqlitePh)),
    rolePolicies: db.prepare<Record<string, unknown>, PrincipalPolicyRow>(principalPoliciesSql('role', sqlitePh)),
  };
  const policies = createSqliteEntityPolicies(db, USER_POLICIES);
  const toAccount = (r: { id: string; name: string; created_at: number }): AccountRecord => ({
    id: r.id,
    name: r.name,
    createdAt: new Date(r.created_at),
  });
  const changeTags = sqliteTagChanger(db, 'users');
  const deleteUser = db.transaction((accountId: string, name: string) => {
    q.deleteUserKeys.run(accountId, name);
    return q.deleteUser.run(accountId, name).changes > 0;
  });

  return {
    async createAccount(a) {
      return q.insertAccount.run(a.id, a.name, a.now.getTime()).changes > 0;
    },
    async account(id) {
      const r = q.account.get(id);
      return r && toAccount(r);
    },
    async listAccounts() {
      return q.accounts.all().map(toAccount);
    },
    async createUser(u) {
      const values = [u.accountId, u.name, u.userId, u.path, u.permissionsBoundary ?? null, u.now.getTime(), JSON.stringify(u.tags ?? [])];
      return q.insertUser.run(named(values)).changes > 0;
    },
    async setUserBoundary(accountId, name, arn) {
      return q.setBoundary.run(arn, accountId, name).changes > 0;
    },
    async setUserCustomerBoundary(accountId, name, arn) {
      return q.setCustomerBoundary.run(named([accountId, name, arn])).changes > 0;
    },
    async changeUserTags(accountId, name, change) {
      return changeTags(accountId, name, change);
    },
    async user(accountId, name) {
      const r = q.user.get(named([accountId, name]));
      return r && toUser(r);
    },
    async listUsers(accountId) {
      return q.users.all(accountId).map(toUser);
    },
    async deleteUser(accountId, name) {
      return deleteUser.immediate(accountId, name);
    },
    async createAccessKey(k) {
      q.insertKey.run(k.id, k.accountId, k.userName ?? null, k.sealedSecret, k.status, k.now.getTime());
    },
    async accessKey(id) {
      const r = q.key.get(id);
      return r && toKey(r);
    },
    async listAccessKeys(accountId, userName) {
      return (userName === undefined ? q.rootKeys.all(accountId) : q.userKeys.all(accountId, userName)).map(toKey);
    },
    async setAccessKeyStatus(id, status) {
      return q.keyStatus.run(status, id).changes > 0;
    },
    async deleteAccessKey(id) {
      return q.deleteKey.run(id).changes > 0;
    },
    putUserPolicy: policies.put,
    userPolicies: policies.list,
    deleteUserPolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
    async managedPolicyUsage(accountId) {
      return q.policyUsage.all({ a: accountId });
    },
    async principalPolicies(accountId, kind, name) {
      return (kind === 'user' ? q.userPolicies : q.rolePolicies).all(named([accountId, name])).map(toPrincipalPolicy);
    },
  };
}
