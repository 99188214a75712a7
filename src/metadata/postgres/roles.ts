/** Roles, their policies and OIDC providers on PostgreSQL (the twin of ../sqlite/roles.ts). */
import { boundaryExistsSql, setCustomerBoundarySql } from '../customer-policies.js';
import { ROLE_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, nameInAnyCase, pgPh } from '../iam-names.js';
import { roleValues, toOidcProvider, toRole, type OidcProviderRow, type RoleRow, type RoleStore } from '../roles.js';
import { createPostgresEntityPolicies } from './entity-policies.js';
import { changePostgresTags } from './entity-tags.js';
import { changes, one, rows, type PgContext } from './pool.js';

const ROLE_COLUMNS =
  'account_id, name, role_id, path, trust_policy, description, max_session_duration, tags, permissions_boundary, created_at, trust_principal_ids';
const INSERT_ROLE = insertUnlessNameTaken('roles', ROLE_COLUMNS.split(', '), pgPh, boundaryExistsSql(pgPh(1), pgPh(9), ' FOR SHARE'));
const PROVIDER_COLUMNS = 'account_id, url, client_ids, thumbprints, created_at';

export function createPostgresRoles(ctx: PgContext): RoleStore {
  const { pool, collate } = ctx;
  const policies = createPostgresEntityPolicies(ctx, ROLE_POLICIES);
  return {
    async createRole(r) {
      const n = await changes(pool, INSERT_ROLE, roleValues(r));
      return n > 0;
    },
    async setRoleBoundary(accountId, name, arn) {
      return (await changes(pool, 'UPDATE roles SET permissions_boundary = $1 WHERE account_id = $2 AND name = $3', [arn, accountId, name])) > 0;
    },
    async setRoleCustomerBoundary(accountId, name, arn) {
      return (await changes(pool, setCustomerBoundarySql('roles', pgPh, ' FOR SHARE'), [accountId, name, arn])) > 0;
    },
    async changeRoleTags(accountId, name, change) {
      return changePostgresTags(pool, 'roles', accountId, name, change);
    },
    async role(accountId, name) {
      const r = await one<RoleRow>(pool, `SELECT ${ROLE_COLUMNS} FROM roles WHERE ${nameInAnyCase(pgPh)}`, [accountId, name]);
      return r && toRole(r);
    },
    async listRoles(accountId) {
      return (await rows<RoleRow>(pool, `SELECT ${ROLE_COLUMNS} FROM roles WHERE account_id = $1 ORDER BY name${collate}`, [accountId])).map(toRole);
    },
    async updateRole(accountId, name, c) {
      const n = await changes(
        pool,
        `UPDATE roles SET trust_policy = COALESCE($1, trust_policy), trust_principal_ids = COALESCE($6, trust_principal_ids),
         description = COALESCE($2, description), max_session_duration = COALESCE($3, max_session_duration) WHERE account_id = $4 AND name = $5`,
        [
          c.trustPolicy ?? null,
          c.description ?? null,
          c.maxSessionDuration ?? null,
          accountId,
          name,
          c.trustPrincipalIds === undefined ? null : JSON.stringify(c.trustPrincipalIds),
        ],
      );
      return n > 0;
    },
    async deleteRole(accountId, name) {
      // role_policies go by ON DELETE CASCADE.
      return (await changes(pool, 'DELETE FROM roles WHERE account_id = $1 AND name = $2', [accountId, name])) > 0;
    },
    putRolePolicy: policies.put,
    rolePolicies: policies.list,
    deleteRolePolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
    async createOidcProvider(p) {
      const n = await changes(pool, `INSERT INTO oidc_providers (${PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [
        p.accountId,
        p.url,
        JSON.stringify(p.clientIds),
        JSON.stringify(p.thumbprints),
        p.now.getTime(),
      ]);
      return n > 0;
    },
    async oidcProvider(accountId, url) {
      const r = await one<OidcProviderRow>(pool, `SELECT ${PROVIDER_COLUMNS} FROM oidc_providers WHERE account_id = $1 AND url = $2`, [accountId, url]);
      return r && toOidcProvider(r);
    },
    async listOidcProviders(accountId) {
      return (
        await rows<OidcProviderRow>(pool, `SELECT ${PROVIDER_COLUMNS} FROM oidc_providers WHERE account_id = $1 ORDER BY url${collate}`, [accountId])
      ).map(toOidcProvider);
    },
    async deleteOidcProvider(accountId, url) {
      return (await changes(pool, 'DELETE FROM oidc_providers WHERE account_id = $1 AND url = $2', [accountId, url])) > 0;
    },
  };
}
