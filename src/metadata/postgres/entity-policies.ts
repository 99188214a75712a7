/** A user's, role's or group's policies on PostgreSQL (the twin of ../sqlite/entity-policies.ts). */
import { entityPolicySql, toEntityPolicy, type EntityPolicies, type EntityPolicyRow, type EntityPolicyTable } from '../entity-policies.js';
import { changes, rows, type PgContext } from './pool.js';

export function createPostgresEntityPolicies({ pool, collate }: PgContext, where: EntityPolicyTable): EntityPolicies {
  const sql = entityPolicySql(where, (i) => `$${i}`, { collate, lock: ' FOR SHARE' });
  return {
    async put(accountId, owner, p) {
      await pool.query(sql.put, [accountId, owner, p.kind, p.name, p.document ?? null]);
    },
    async list(accountId, owner) {
      return (await rows<EntityPolicyRow>(pool, sql.list, [accountId, owner])).map(toEntityPolicy);
    },
    async delete(accountId, owner, kind, name) {
      return (await changes(pool, sql.delete, [accountId, owner, kind, name])) > 0;
    },
    async attachCustomer(accountId, owner, arn) {
      return (await changes(pool, sql.attachCustomer, [accountId, owner, arn])) > 0;
    },
  };
}
