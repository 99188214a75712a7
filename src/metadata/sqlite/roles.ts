/** Roles, their policies and OIDC providers on SQLite. */
import { boundaryExistsSql, setCustomerBoundarySql } from '../customer-policies.js';
import { ROLE_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, named, nameInAnyCase, sqlitePh } from '../iam-names.js';
import { roleValues, toOidcProvider, toRole, type OidcProviderRow, type RoleRow, type RoleStore } from '../roles.js';
import { createSqliteEntityPolicies } from './entity-policies.js';
import { sqliteTagChanger } from './entity-tags.js';
import type { Db } from './open.js';

const ROLE_COLUMNS = [
  'account_id',
  'name',
  'role_id',
  'path',
  'trust_policy',
  'description',
  'max_session_duration',
  'tags',
  'permissions_boundary',
  'created_at',
  'trust_principal_ids',
];

export function createSqliteRoles(db: Db): RoleStore {
  const q = {
    insertRole: db.prepare(insertUnlessNameTaken('roles', ROLE_COLUMNS, sqlitePh, boundaryExistsSql(sqlitePh(1), sqlitePh(9)))),
    setBoundary: db.prepare('UPDATE roles SET permissions_boundary = ? WHERE account_id = ? AND name = ?'),
    setCustomerBoundary: db.prepare(setCustomerBoundarySql('roles', sqlitePh)),
    role: db.prepare<Record<string, unknown>, RoleRow>(`SELECT * FROM roles WHERE ${nameInAnyCase(sqlitePh)}`),
    roles: db.prepare<[string], RoleRow>('SELECT * FROM roles WHERE account_id = ? ORDER BY name'),
    updateRole: db.prepare(
      `UPDATE roles SET trust_policy = COALESCE(?, trust_policy), trust_principal_ids = COALESCE(?, trust_principal_ids),
       description = COALESCE(?, description), max_session_duration = COALESCE(?, max_session_duration) WHERE account_id = ? AND name = ?`,
    ),
    deleteRole: db.prepare('DELETE FROM roles WHERE account_id = ? AND name = ?'),
    insertProvider: db.prepare(
      'INSERT INTO oidc_providers (account_id, url, client_ids, thumbprints, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    provider: db.prepare<[string, string], OidcProviderRow>('SELECT * FROM oidc_providers WHERE account_id = ? AND url = ?'),
    providers: db.prepare<[string], OidcProviderRow>('SELECT * FROM oidc_providers WHERE account_id = ? ORDER BY url'),
    deleteProvider: db.prepare('DELETE FROM oidc_providers WHERE account_id = ? AND url = ?'),
  };
  const policies = createSqliteEntityPolicies(db, ROLE_POLICIES);
  const changeTags = sqliteTagChanger(db, 'roles');
  return {
    async createRole(r) {
      return q.insertRole.run(named(roleValues(r))).changes > 0;
    },
    async setRoleBoundary(accountId, name, arn) {
      return q.setBoundary.run(arn, accountId, name).changes > 0;
    },
    async setRoleCustomerBoundary(accountId, name, arn) {
      return q.setCustomerBoundary.run(named([accountId, name, arn])).changes > 0;
    },
    async changeRoleTags(accountId, name, change) {
      return changeTags(accountId, name, change);
    },
    async role(accountId, name) {
      const r = q.role.get(named([accountId, name]));
      return r && toRole(r);
    },
    async listRoles(accountId) {
      return q.roles.all(accountId).map(toRole);
    },
    async updateRole(accountId, name, c) {
      const ids = c.trustPrincipalIds === undefined ? null : JSON.stringify(c.trustPrincipalIds);
      return q.updateRole.run(c.trustPolicy ?? null, ids, c.description ?? null, c.maxSessionDuration ?? null, accountId, name).changes > 0;
    },
    async deleteRole(accountId, name) {
      // role_policies go by ON DELETE CASCADE.
      return q.deleteRole.run(accountId, name).changes > 0;
    },
    putRolePolicy: policies.put,
    rolePolicies: policies.list,
    deleteRolePolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
    async createOidcProvider(p) {
      return q.insertProvider.run(p.accountId, p.url, JSON.stringify(p.clientIds), JSON.stringify(p.thumbprints), p.now.getTime()).changes > 0;
    },
    async oidcProvider(accountId, url) {
      const r = q.provider.get(accountId, url);
      return r && toOidcProvider(r);
    },
    async listOidcProviders(accountId) {
      return q.providers.all(accountId).map(toOidcProvider);
    },
    async deleteOidcProvider(accountId, url) {
      return q.deleteProvider.run(accountId, url).changes > 0;
    },
  };
}
