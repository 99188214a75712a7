/** A user's, role's or group's policies on SQLite (see ../entity-policies.ts). */
import { entityPolicySql, toEntityPolicy, type EntityPolicies, type EntityPolicyRow, type EntityPolicyTable } from '../entity-policies.js';
import { named, sqlitePh } from '../iam-names.js';
import type { Db } from './open.js';

export function createSqliteEntityPolicies(db: Db, where: EntityPolicyTable): EntityPolicies {
  const sql = entityPolicySql(where, () => '?');
  const q = {
    attachCustomer: db.prepare(entityPolicySql(where, sqlitePh).attachCustomer),
    put: db.prepare(sql.put),
    list: db.prepare<[string, string], EntityPolicyRow>(sql.list),
    delete: db.prepare(sql.delete),
  };
  return {
    async put(accountId, owner, p) {
      q.put.run(accountId, owner, p.kind, p.name, p.document ?? null);
    },
    async list(accountId, owner) {
      return q.list.all(accountId, owner).map(toEntityPolicy);
    },
    async delete(accountId, owner, kind, name) {
      return q.delete.run(accountId, owner, kind, name).changes > 0;
    },
    async attachCustomer(accountId, owner, arn) {
      // One statement is atomic on SQLite: DeletePolicy's transaction runs wholly before or after it.
      return q.attachCustomer.run(named([accountId, owner, arn])).changes > 0;
    },
  };
}
