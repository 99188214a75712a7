/** Customer managed policies and their versions on SQLite. */
import {
  CUSTOMER_POLICY_COLUMNS,
  customerPolicyValues,
  toCustomerPolicy,
  toPolicyVersion,
  usageSql,
  type CustomerPolicyRow,
  type CustomerPolicyStore,
} from '../customer-policies.js';
import { insertUnlessNameTaken, named, sqlitePh } from '../iam-names.js';
import { sqliteTagChanger } from './entity-tags.js';
import type { Db } from './open.js';

export function createSqliteCustomerPolicies(db: Db): CustomerPolicyStore {
  const q = {
    insert: db.prepare(insertUnlessNameTaken('customer_policies', [...CUSTOMER_POLICY_COLUMNS.split(', '), 'next_version'], sqlitePh)),
    insertVersion: db.prepare('INSERT INTO customer_policy_versions (account_id, policy_name, version, document, created_at) VALUES (?, ?, ?, ?, ?)'),
    get: db.prepare<[string, string], CustomerPolicyRow & { next_version: number }>('SELECT * FROM customer_policies WHERE account_id = ? AND name = ?'),
    list: db.prepare<[string], CustomerPolicyRow>('SELECT * FROM customer_policies WHERE account_id = ? ORDER BY name'),
    versions: db.prepare<[string, string], { version: number; document: string; created_at: number }>(
      'SELECT version, document, created_at FROM customer_policy_versions WHERE account_id = ? AND policy_name = ? ORDER BY version',
    ),
    defaultDocument: db.prepare<[string, string], { document: string }>(
      `SELECT v.document FROM customer_policies p JOIN customer_policy_versions v
       ON v.account_id = p.account_id AND v.policy_name = p.name AND v.version = p.default_version
       WHERE p.account_id = ? AND p.name = ?`,
    ),
    advance: db.prepare(
      'UPDATE customer_policies SET next_version = next_version + 1, default_version = CASE WHEN ? THEN next_version ELSE default_version END, updated_at = ? WHERE account_id = ? AND name = ?',
    ),
    deleteVersion: db.prepare(
      `DELETE FROM customer_policy_versions WHERE account_id = ? AND policy_name = ? AND version = ?
       AND version <> (SELECT default_version FROM customer_policies WHERE account_id = ? AND name = ?)`,
    ),
    setDefault: db.prepare(
      `UPDATE customer_policies SET default_version = ?, updated_at = ? WHERE account_id = ? AND name = ?
       AND EXISTS (SELECT 1 FROM customer_policy_versions WHERE account_id = ? AND policy_name = ? AND version = ?)`,
    ),
    delete: db.prepare('DELETE FROM customer_policies WHERE account_id = ? AND name = ?'),
    usage: db.prepare<unknown[], { attachments: number; boundaries: number }>(usageSql(() => '?')),
  };
  const changeTags = sqliteTagChanger(db, 'customer_policies');
  const create = db.transaction((p: Parameters<CustomerPolicyStore['create']>[0]) => {
    if (q.insert.run(named(customerPolicyValues(p))).changes === 0) return false;
    q.insertVersion.run(p.accountId, p.name, 1, p.document, p.now.getTime());
    return true;
  });
  const addVersion = db.transaction((accountId: string, name: string, document: string, setDefault: boolean, max: number, now: Date) => {
    const p = q.get.get(accountId, name);
    if (!p) return undefined;
    if (q.versions.all(accountId, name).length >= max) return 'limit' as const;
    const version = Number(p.next_version);
    q.insertVersion.run(accountId, name, version, document, now.getTime());
    q.advance.run(setDefault ? 1 : 0, now.getTime(), accountId, name);
    return version;
  });
  const deleteIfUnused = db.transaction((accountId: string, name: string, arn: string) => {
    if (!q.get.get(accountId, name)) return undefined;
    const used = q.usage.get(accountId, arn, accountId, arn, accountId, arn, accountId, arn, accountId, arn)!;
    if (Number(used.attachments) + Number(used.boundaries) > 0) return 'attached' as const;
    if (q.versions.all(accountId, name).length > 1) return 'versions' as const;
    q.delete.run(accountId, name);
    return 'deleted' as const;
  });
  return {
    async create(p) {
      return create.immediate(p);
    },
    async get(accountId, name) {
      const r = q.get.get(accountId, name);
      return r && toCustomerPolicy(r);
    },
    async list(accountId) {
      return q.list.all(accountId).map(toCustomerPolicy);
    },
    async versions(accountId, name) {
      return q.versions.all(accountId, name).map(toPolicyVersion);
    },
    async defaultDocument(accountId, name) {
      return q.defaultDocument.get(accountId, name)?.document;
    },
    async addVersion(accountId, name, document, setDefault, max, now) {
      return addVersion.immediate(accountId, name, document, setDefault, max, now);
    },
    async deleteVersion(accountId, name, version) {
      return q.deleteVersion.run(accountId, name, version, accountId, name).changes > 0;
    },
    async setDefaultVersion(accountId, name, version, now) {
      return q.setDefault.run(version, now.getTime(), accountId, name, accountId, name, version).changes > 0;
    },
    async changeTags(accountId, name, change) {
      return changeTags(accountId, name, change);
    },
    async delete(accountId, name) {
      return q.delete.run(accountId, name).changes > 0;
    },
    async deleteIfUnused(accountId, name, arn) {
      return deleteIfUnused.immediate(accountId, name, arn);
    },
    async usage(accountId, arn) {
      const r = q.usage.get(accountId, arn, accountId, arn, accountId, arn, accountId, arn, accountId, arn)!;
      return { attachments: Number(r.attachments), boundaries: Number(r.boundaries) };
    },
  };
}
