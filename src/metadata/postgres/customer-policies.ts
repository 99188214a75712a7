/** Customer managed policies and their versions on PostgreSQL (the twin of ../sqlite/customer-policies.ts). */
import { changePostgresTags } from './entity-tags.js';
import {
  CUSTOMER_POLICY_COLUMNS,
  customerPolicyValues,
  toCustomerPolicy,
  toPolicyVersion,
  usageSql,
  type CustomerPolicyRow,
  type CustomerPolicyStore,
} from '../customer-policies.js';
import { insertUnlessNameTaken, pgPh } from '../iam-names.js';
import { changes, one, rows, withTransaction, Rollback, type PgContext } from './pool.js';

const USAGE = usageSql((i) => `$${i}`);

export function createPostgresCustomerPolicies({ pool, collate }: PgContext): CustomerPolicyStore {
  return {
    async create(p) {
      return withTransaction(pool, async (tx) => {
        const n = await changes(
          tx,
          insertUnlessNameTaken('customer_policies', [...CUSTOMER_POLICY_COLUMNS.split(', '), 'next_version'], pgPh),
          customerPolicyValues(p),
        );
        if (n === 0) return false;
        await tx.query('INSERT INTO customer_policy_versions (account_id, policy_name, version, document, created_at) VALUES ($1, $2, 1, $3, $4)', [
          p.accountId,
          p.name,
          p.document,
          p.now.getTime(),
        ]);
        return true;
      });
    },
    async get(accountId, name) {
      const r = await one<CustomerPolicyRow>(pool, `SELECT ${CUSTOMER_POLICY_COLUMNS} FROM customer_policies WHERE account_id = $1 AND name = $2`, [
        accountId,
        name,
      ]);
      return r && toCustomerPolicy(r);
    },
    async list(accountId) {
      const found = await rows<CustomerPolicyRow>(
        pool,
        `SELECT ${CUSTOMER_POLICY_COLUMNS} FROM customer_policies WHERE account_id = $1 ORDER BY name${collate}`,
        [accountId],
      );
      return found.map(toCustomerPolicy);
    },
    async versions(accountId, name) {
      const found = await rows<{ version: number; document: string; created_at: number }>(
        pool,
        'SELECT version, document, created_at FROM customer_policy_versions WHERE account_id = $1 AND policy_name = $2 ORDER BY version',
        [accountId, name],
      );
      return found.map(toPolicyVersion);
    },
    async defaultDocument(accountId, name) {
      const r = await one<{ document: string }>(
        pool,
        `SELECT v.document FROM customer_policies p JOIN customer_policy_versions v
         ON v.account_id = p.account_id AND v.policy_name = p.name AND v.version = p.default_version
         WHERE p.account_id = $1 AND p.name = $2`,
        [accountId, name],
      );
      return r?.document;
    },
    async addVersion(accountId, name, document, setDefault, max, now) {
      return withTransaction(pool, async (tx) => {
        // The row lock orders concurrent additions, so the count below cannot be overtaken.
        const p = await one<{ next_version: number }>(tx, 'SELECT next_version FROM customer_policies WHERE account_id = $1 AND name = $2 FOR UPDATE', [
          accountId,
          name,
        ]);
        if (!p) return undefined;
        const count = await one<{ n: string }>(tx, 'SELECT count(*) AS n FROM customer_policy_versions WHERE account_id = $1 AND policy_name = $2', [
          accountId,
          name,
        ]);
        if (Number(count?.n ?? 0) >= max) throw new Rollback('limit' as const);
        const version = Number(p.next_version);
        await tx.query('INSERT INTO customer_policy_versions (account_id, policy_name, version, document, created_at) VALUES ($1, $2, $3, $4, $5)', [
          accountId,
          name,
          version,
          document,
          now.getTime(),
        ]);
        await tx.query(
          'UPDATE customer_policies SET next_version = next_version + 1, default_version = CASE WHEN $1 THEN next_version ELSE default_version END, updated_at = $2 WHERE account_id = $3 AND name = $4',
          [setDefault, now.getTime(), accountId, name],
        );
        return version;
      });
    },
    async deleteVersion(accountId, name, version) {
      const n = await changes(
        pool,
        `DELETE FROM customer_policy_versions WHERE account_id = $1 AND policy_name = $2 AND version = $3
         AND version <> (SELECT default_version FROM customer_policies WHERE account_id = $1 AND name = $2)`,
        [accountId, name, version],
      );
      return n > 0;
    },
    async setDefaultVersion(accountId, name, version, now) {
      const n = await changes(
        pool,
        `UPDATE customer_policies SET default_version = $1, updated_at = $2 WHERE account_id = $3 AND name = $4
         AND EXISTS (SELECT 1 FROM customer_policy_versions WHERE account_id = $3 AND policy_name = $4 AND version = $1)`,
        [version, now.getTime(), accountId, name],
      );
      return n > 0;
    },
    async changeTags(accountId, name, change) {
      return changePostgresTags(pool, 'customer_policies', accountId, name, change);
    },
    async delete(accountId, name) {
      return (await changes(pool, 'DELETE FROM customer_policies WHERE account_id = $1 AND name = $2', [accountId, name])) > 0;
    },
    async deleteIfUnused(accountId, name, arn) {
      return withTransaction(pool, async (tx) => {
        // The row lock (attachCustomer's FOR SHARE waits on it, or it on them) orders this with any
        // attachment: one committed before is counted below, one after finds no policy.
        if (!(await one(tx, 'SELECT 1 FROM customer_policies WHERE account_id = $1 AND name = $2 FOR UPDATE', [accountId, name]))) return undefined;
        const used = await one<{ attachments: string | number; boundaries: string | number }>(tx, USAGE, [accountId, arn]);
        if (Number(used?.attachments ?? 0) + Number(used?.boundaries ?? 0) > 0) return 'attached' as const;
        const count = await one<{ n: string }>(tx, 'SELECT count(*) AS n FROM customer_policy_versions WHERE account_id = $1 AND policy_name = $2', [
          accountId,
          name,
        ]);
        if (Number(count?.n ?? 0) > 1) return 'versions' as const;
        await tx.query('DELETE FROM customer_policies WHERE account_id = $1 AND name = $2', [accountId, name]);
        return 'deleted' as const;
      });
    },
    async usage(accountId, arn) {
      const r = await one<{ attachments: string | number; boundaries: string | number }>(pool, USAGE, [accountId, arn]);
      return { attachments: Number(r?.attachments ?? 0), boundaries: Number(r?.boundaries ?? 0) };
    },
  };
}
