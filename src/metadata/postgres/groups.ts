/** IAM groups, their members and policies on PostgreSQL (the twin of ../sqlite/groups.ts). */
import { GROUP_COLUMNS, toGroup, type GroupRow, type GroupStore } from '../groups.js';
import { GROUP_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, nameInAnyCase, pgPh } from '../iam-names.js';
import { createPostgresEntityPolicies } from './entity-policies.js';
import { changes, one, rows, type PgContext } from './pool.js';

export function createPostgresGroups(ctx: PgContext): GroupStore {
  const { pool, collate } = ctx;
  const policies = createPostgresEntityPolicies(ctx, GROUP_POLICIES);
  return {
    async createGroup(g) {
      const n = await changes(pool, insertUnlessNameTaken('iam_groups', GROUP_COLUMNS.split(', '), pgPh), [
        g.accountId,
        g.name,
        g.groupId,
        g.path,
        g.now.getTime(),
      ]);
      return n > 0;
    },
    async group(accountId, name) {
      const r = await one<GroupRow>(pool, `SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE ${nameInAnyCase(pgPh)}`, [accountId, name]);
      return r && toGroup(r);
    },
    async listGroups(accountId) {
      return (await rows<GroupRow>(pool, `SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE account_id = $1 ORDER BY name${collate}`, [accountId])).map(toGroup);
    },
    async deleteGroup(accountId, name) {
      return (await changes(pool, 'DELETE FROM iam_groups WHERE account_id = $1 AND name = $2', [accountId, name])) > 0;
    },
    async addMember(accountId, groupName, userName) {
      await pool.query('INSERT INTO iam_group_members (account_id, group_name, user_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        accountId,
        groupName,
        userName,
      ]);
    },
    async removeMember(accountId, groupName, userName) {
      const n = await changes(pool, 'DELETE FROM iam_group_members WHERE account_id = $1 AND group_name = $2 AND user_name = $3', [
        accountId,
        groupName,
        userName,
      ]);
      return n > 0;
    },
    async members(accountId, groupName) {
      const found = await rows<{ user_name: string }>(
        pool,
        `SELECT user_name FROM iam_group_members WHERE account_id = $1 AND group_name = $2 ORDER BY user_name${collate}`,
        [accountId, groupName],
      );
      return found.map((r) => r.user_name);
    },
    async groupsOf(accountId, userName) {
      const found = await rows<GroupRow>(
        pool,
        `SELECT g.account_id, g.name, g.group_id, g.path, g.created_at FROM iam_group_members m
         JOIN iam_groups g ON g.account_id = m.account_id AND g.name = m.group_name
         WHERE m.account_id = $1 AND m.user_name = $2 ORDER BY g.name${collate}`,
        [accountId, userName],
      );
      return found.map(toGroup);
    },
    putGroupPolicy: policies.put,
    groupPolicies: policies.list,
    deleteGroupPolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
  };
}
