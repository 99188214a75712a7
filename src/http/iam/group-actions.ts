/**
 * IAM's group actions (`aws iam create-group`, `add-user-to-group`, `put-group-policy`, ...,
 * Terraform's aws_iam_group, aws_iam_group_membership, aws_iam_group_policy(_attachment)): thin
 * renderings of auth/group-admin.ts's rules.
 */
import { groupArn, type GroupAdmin } from '../../auth/group-admin.js';
import { IamCodes } from '../../core/errors.js';
import type { GroupRecord } from '../../metadata/groups.js';
import { userXml, type QueryAction, type QueryCall } from './actions.js';
import { QueryError, required, type XmlValue } from './query.js';
import { attachedPage, inlinePage, pageOf } from './paging.js';

function groupsOf(call: QueryCall): GroupAdmin {
  if (!call.identities.groups) throw new QueryError(IamCodes.ServiceFailure, 'groups are not available on this server');
  return call.identities.groups;
}

function groupXml(g: GroupRecord): XmlValue {
  return { Path: g.path, GroupName: g.name, GroupId: g.groupId, Arn: groupArn(g), CreateDate: g.createdAt };
}

const group = (call: QueryCall) => required(call.form, 'GroupName');

export const groupActions: Record<string, QueryAction> = {
  async CreateGroup(call) {
    return { Group: groupXml(await groupsOf(call).createGroup(call.accountId, group(call), call.form.get('Path') ?? '/')) };
  },
  async GetGroup(call) {
    const groups = groupsOf(call);
    const g = await groups.group(call.accountId, group(call));
    const users = await Promise.all((await groups.members(call.accountId, g.name)).map((u) => call.identities.user(call.accountId, u)));
    return { Group: groupXml(g), ...(pageOf(call.form, 'Users', users, (u) => userXml(u)) as object) };
  },
  async ListGroups(call) {
    const groups = await groupsOf(call).listGroups(call.accountId, call.form.get('PathPrefix') ?? '/');
    return pageOf(call.form, 'Groups', groups, groupXml);
  },
  async DeleteGroup(call) {
    await groupsOf(call).deleteGroup(call.accountId, group(call));
    return undefined;
  },
  async AddUserToGroup(call) {
    await groupsOf(call).addUser(call.accountId, group(call), required(call.form, 'UserName'));
    return undefined;
  },
  async RemoveUserFromGroup(call) {
    await groupsOf(call).removeUser(call.accountId, group(call), required(call.form, 'UserName'));
    return undefined;
  },
  async ListGroupsForUser(call) {
    const groups = await groupsOf(call).groupsOf(call.accountId, required(call.form, 'UserName'));
    return pageOf(call.form, 'Groups', groups, groupXml);
  },
  async PutGroupPolicy(call) {
    const document = required(call.form, 'PolicyDocument');
    call.checkPolicy(document);
    await groupsOf(call).putGroupPolicy(call.accountId, group(call), required(call.form, 'PolicyName'), document);
    return undefined;
  },
  async GetGroupPolicy(call) {
    const groupName = group(call);
    const name = required(call.form, 'PolicyName');
    const p = (await groupsOf(call).groupPolicies(call.accountId, groupName)).find((x) => x.kind === 'inline' && x.name === name);
    if (!p) throw new QueryError(IamCodes.NoSuchEntity, `The group policy with name ${name} cannot be found.`);
    // URL-encoded, as IAM returns policy documents (the CLI decodes them).
    const asMade = await call.identities.nameAsMade(call.accountId, 'group', groupName);
    return { GroupName: asMade, PolicyName: name, PolicyDocument: encodeURIComponent(p.document ?? '') };
  },
  async ListGroupPolicies(call) {
    const policies = await groupsOf(call).groupPolicies(call.accountId, group(call));
    return inlinePage(call.form, policies);
  },
  async DeleteGroupPolicy(call) {
    await groupsOf(call).removeGroupPolicy(call.accountId, group(call), 'inline', required(call.form, 'PolicyName'));
    return undefined;
  },
  async AttachGroupPolicy(call) {
    await groupsOf(call).attachGroupPolicy(call.accountId, group(call), required(call.form, 'PolicyArn'));
    return undefined;
  },
  async DetachGroupPolicy(call) {
    await groupsOf(call).removeGroupPolicy(call.accountId, group(call), 'managed', required(call.form, 'PolicyArn'));
    return undefined;
  },
  async ListAttachedGroupPolicies(call) {
    const policies = await groupsOf(call).groupPolicies(call.accountId, group(call));
    return attachedPage(call.form, policies);
  },
};
