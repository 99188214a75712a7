/** IAM groups: their members and their policies (inline or managed, as a user's). */
import type { UserPolicyRecord } from './identities.js';

export interface GroupRecord {
  accountId: string;
  name: string;
  /** IAM's unique id (AGPA...). */
  groupId: string;
  path: string;
  createdAt: Date;
}

/** Same shape as a user's: inline (name + document) or managed (ARN). */
export type GroupPolicyRecord = UserPolicyRecord;

export interface GroupStore {
  createGroup(g: Omit<GroupRecord, 'createdAt'> & { now: Date }): Promise<boolean>;
  group(accountId: string, name: string): Promise<GroupRecord | undefined>;
  listGroups(accountId: string): Promise<GroupRecord[]>;
  /** Deletes the group with its memberships and policies. */
  deleteGroup(accountId: string, name: string): Promise<boolean>;
  /** Adds a member (again: no change). */
  addMember(accountId: string, groupName: string, userName: string): Promise<void>;
  removeMember(accountId: string, groupName: string, userName: string): Promise<boolean>;
  /** The members' user names, in name order. */
  members(accountId: string, groupName: string): Promise<string[]>;
  /** The groups a user is in, in name order. */
  groupsOf(accountId: string, userName: string): Promise<GroupRecord[]>;
  putGroupPolicy(accountId: string, groupName: string, p: GroupPolicyRecord): Promise<void>;
  groupPolicies(accountId: string, groupName: string): Promise<GroupPolicyRecord[]>;
  deleteGroupPolicy(accountId: string, groupName: string, kind: 'inline' | 'managed', name: string): Promise<boolean>;
  /** Attaches the account's customer policy `arn` if it exists, atomically with DeletePolicy (entity-policies.ts); false when it does not. */
  attachCustomerPolicy(accountId: string, groupName: string, arn: string): Promise<boolean>;
}

export interface GroupRow {
  account_id: string;
  name: string;
  group_id: string;
  path: string;
  created_at: number;
}

export const GROUP_COLUMNS = 'account_id, name, group_id, path, created_at';

export const toGroup = (r: GroupRow): GroupRecord => ({
  accountId: r.account_id,
  name: r.name,
  groupId: r.group_id,
  path: r.path,
  createdAt: new Date(Number(r.created_at)),
});
