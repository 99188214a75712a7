/**
 * IAM groups with IAM's rules: names unique in the account, members that are the account's users,
 * and the order deletions must happen in (a group with members or policies cannot be deleted).
 * A group's policies are its members' too (http/identity-policies.ts), so a change of members or
 * policies bumps the authorization caches.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import type { ChangeSignal } from '../core/expiring-cache.js';
import type { GroupPolicyRecord, GroupRecord, GroupStore } from '../metadata/groups.js';
import { attachManaged } from './attach-managed.js';
import { IdentityError } from './identity-admin.js';
import { inlinePolicyOverflow } from './inline-policy-size.js';

const GROUP_NAME_RE = /^[\w+=,.@-]{1,128}$/;
const PATH_RE = /^\/(?:[\x21-\x7e]*\/)?$/;
const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;

/** `arn:aws:iam::<account>:group<path><name>`. */
export function groupArn(g: Pick<GroupRecord, 'accountId' | 'path' | 'name'>): string {
  return `arn:aws:iam::${g.accountId}:group${g.path}${g.name}`;
}

export interface GroupAdminDeps {
  requireAccount(accountId: string): Promise<void>;
  /** The user's name as it was made (given in any case); throws NoSuchEntity unless the user exists. */
  requireUser(accountId: string, userName: string): Promise<string>;
  /** Throws NoSuchEntity unless `arn` names a managed policy the account may attach. */
  requireAttachable(accountId: string, arn: string): Promise<void>;
  /** Bumped when members or policies change, so cached authorization data is dropped. */
  authzChanges: ChangeSignal | undefined;
}

export class GroupAdmin {
  constructor(
    private readonly store: GroupStore,
    private readonly clock: Clock,
    private readonly deps: GroupAdminDeps,
  ) {}

  async createGroup(accountId: string, name: string, path = '/'): Promise<GroupRecord> {
    await this.deps.requireAccount(accountId);
    if (!GROUP_NAME_RE.test(name)) throw new IdentityError(IamCodes.Validation, 'The specified value for groupName is invalid.');
    if (!PATH_RE.test(path) || path.length > 512) throw new IdentityError(IamCodes.Validation, 'The specified value for path is invalid.');
    const groupId = 'AGPA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
    if (!(await this.store.createGroup({ accountId, name, groupId, path, now: this.clock.now() }))) {
      throw new IdentityError(IamCodes.EntityAlreadyExists, `Group with name ${name} already exists.`);
    }
    return (await this.store.group(accountId, name))!;
  }

  /** The group named `name` in any case (IAM's names are not told apart by case): its record carries the name as created. */
  async group(accountId: string, name: string): Promise<GroupRecord> {
    const g = await this.store.group(accountId, name);
    if (!g) throw new IdentityError(IamCodes.NoSuchEntity, `The group with name ${name} cannot be found.`);
    return g;
  }

  /** The group (named in any case), or undefined. */
  groupRecord(accountId: string, name: string): Promise<GroupRecord | undefined> {
    return this.store.group(accountId, name);
  }

  async listGroups(accountId: string, pathPrefix = '/'): Promise<GroupRecord[]> {
    return (await this.store.listGroups(accountId)).filter((g) => g.path.startsWith(pathPrefix));
  }

  async members(accountId: string, name: string): Promise<string[]> {
    const g = await this.group(accountId, name);
    return this.store.members(accountId, g.name);
  }

  /** As IAM: a group with members or policies must be stripped of them first. */
  async deleteGroup(accountId: string, given: string): Promise<void> {
    const { name } = await this.group(accountId, given);
    if ((await this.store.members(accountId, name)).length > 0) {
      throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must remove users from group first.');
    }
    const policies = await this.store.groupPolicies(accountId, name);
    if (policies.some((p) => p.kind === 'managed')) throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must detach all policies first.');
    if (policies.length > 0) throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must delete policies first.');
    await this.store.deleteGroup(accountId, name);
  }

  async addUser(accountId: string, groupName: string, userName: string): Promise<void> {
    const g = await this.group(accountId, groupName);
    const user = await this.deps.requireUser(accountId, userName);
    await this.store.addMember(accountId, g.name, user);
    this.deps.authzChanges?.bump();
  }

  async removeUser(accountId: string, groupName: string, userName: string): Promise<void> {
    const g = await this.group(accountId, groupName);
    const user = await this.deps.requireUser(accountId, userName);
    const removed = await this.store.removeMember(accountId, g.name, user);
    this.deps.authzChanges?.bump();
    if (!removed) throw new IdentityError(IamCodes.NoSuchEntity, `The user with name ${userName} cannot be found in group ${groupName}.`);
  }

  async groupsOf(accountId: string, userName: string): Promise<GroupRecord[]> {
    return this.store.groupsOf(accountId, await this.deps.requireUser(accountId, userName));
  }

  /** The groups a user is in, without the user check (the evaluator's read, and DeleteUser's). */
  groupsOfUser(accountId: string, userName: string): Promise<GroupRecord[]> {
    return this.store.groupsOf(accountId, userName);
  }

  async putGroupPolicy(accountId: string, groupName: string, policyName: string, document: string): Promise<void> {
    if (!POLICY_NAME_RE.test(policyName)) throw new IdentityError(IamCodes.Validation, 'The specified value for policyName is invalid.');
    const g = await this.group(accountId, groupName);
    const over = inlinePolicyOverflow('group', g.name, await this.store.groupPolicies(accountId, g.name), policyName, document);
    if (over !== undefined) throw new IdentityError(IamCodes.LimitExceeded, over);
    await this.store.putGroupPolicy(accountId, g.name, { kind: 'inline', name: policyName, document });
    this.deps.authzChanges?.bump();
  }

  async groupPolicies(accountId: string, groupName: string): Promise<GroupPolicyRecord[]> {
    const g = await this.group(accountId, groupName);
    return this.store.groupPolicies(accountId, g.name);
  }

  async attachGroupPolicy(accountId: string, groupName: string, policyArn: string): Promise<void> {
    await this.deps.requireAttachable(accountId, policyArn);
    const g = await this.group(accountId, groupName);
    await attachManaged(policyArn, {
      put: () => this.store.putGroupPolicy(accountId, g.name, { kind: 'managed', name: policyArn }),
      attachCustomer: () => this.store.attachCustomerPolicy(accountId, g.name, policyArn),
    });
    this.deps.authzChanges?.bump();
  }

  async removeGroupPolicy(accountId: string, groupName: string, kind: 'inline' | 'managed', name: string): Promise<void> {
    const g = await this.group(accountId, groupName);
    const removed = await this.store.deleteGroupPolicy(accountId, g.name, kind, name);
    this.deps.authzChanges?.bump();
    if (!removed) {
      throw new IdentityError(
        IamCodes.NoSuchEntity,
        kind === 'inline' ? `The group policy with name ${name} cannot be found.` : `Policy ${name} was not attached.`,
      );
    }
  }
}
