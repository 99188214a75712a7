/** IAM groups, their members and policies on SQLite. */
import { GROUP_COLUMNS, toGroup, type GroupRow, type GroupStore } from '../groups.js';
import { GROUP_POLICIES } from '../entity-policies.js';
import { insertUnlessNameTaken, named, nameInAnyCase, sqlitePh } from '../iam-names.js';
import { createSqliteEntityPolicies } from './entity-policies.js';
import type { Db } from './open.js';

export function createSqliteGroups(db: Db): GroupStore {
  const q = {
    insert: db.prepare(insertUnlessNameTaken('iam_groups', GROUP_COLUMNS.split(', '), sqlitePh)),
    group: db.prepare<Record<string, unknown>, GroupRow>(`SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE ${nameInAnyCase(sqlitePh)}`),
    groups: db.prepare<[string], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE account_id = ? ORDER BY name`),
    delete: db.prepare('DELETE FROM iam_groups WHERE account_id = ? AND name = ?'),
    addMember: db.prepare('INSERT INTO iam_group_members (account_id, group_name, user_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    removeMember: db.prepare('DELETE FROM iam_group_members WHERE account_id = ? AND group_name = ? AND user_name = ?'),
    members: db.prepare<[string, string], { user_name: string }>(
      'SELECT user_name FROM iam_group_members WHERE account_id = ? AND group_name = ? ORDER BY user_name',
    ),
    groupsOf: db.prepare<[string, string], GroupRow>(
      `SELECT g.account_id, g.name, g.group_id, g.path, g.created_at FROM iam_group_members m
       JOIN iam_groups g ON g.account_id = m.account_id AND g.name = m.group_name
       WHERE m.account_id = ? AND m.user_name = ? ORDER BY g.name`,
    ),
  };
  const policies = createSqliteEntityPolicies(db, GROUP_POLICIES);
  return {
    async createGroup(g) {
      return q.insert.run(named([g.accountId, g.name, g.groupId, g.path, g.now.getTime()])).changes > 0;
    },
    async group(accountId, name) {
      const r = q.group.get(named([accountId, name]));
      return r && toGroup(r);
    },
    async listGroups(accountId) {
      return q.groups.all(accountId).map(toGroup);
    },
    async deleteGroup(accountId, name) {
      return q.delete.run(accountId, name).changes > 0;
    },
    async addMember(accountId, groupName, userName) {
      q.addMember.run(accountId, groupName, userName);
    },
    async removeMember(accountId, groupName, userName) {
      return q.removeMember.run(accountId, groupName, userName).changes > 0;
    },
    async members(accountId, groupName) {
      return q.members.all(accountId, groupName).map((r) => r.user_name);
    },
    async groupsOf(accountId, userName) {
      return q.groupsOf.all(accountId, userName).map(toGroup);
    },
    putGroupPolicy: policies.put,
    groupPolicies: policies.list,
    deleteGroupPolicy: policies.delete,
    attachCustomerPolicy: policies.attachCustomer,
  };
}
