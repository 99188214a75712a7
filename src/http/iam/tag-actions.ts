/**
 * IAM's user and role tagging actions (`aws iam tag-user`, `untag-user`, `list-user-tags`, and the
 * same for roles; Terraform's aws_iam_user and aws_iam_role `tags`): thin renderings of
 * auth/identity-admin.ts's and auth/role-admin.ts's rules. A user's tags are its aws:PrincipalTag/*
 * on every request it signs (http/authn.ts), a role's its sessions' (auth/sts.ts).
 */
import type { QueryAction } from './actions.js';
import { page } from './paging.js';
import { required, requiredList } from './query.js';
import { members, rolesOf, tagMembers } from './role-actions.js';

export const tagActions: Record<string, QueryAction> = {
  async TagUser(call) {
    await call.identities.tagUser(call.accountId, required(call.form, 'UserName'), tagMembers(requiredList(call.form, 'Tags')));
    return undefined;
  },
  async UntagUser(call) {
    await call.identities.untagUser(call.accountId, required(call.form, 'UserName'), members(requiredList(call.form, 'TagKeys'), 'TagKeys'));
    return undefined;
  },
  async ListUserTags(call) {
    const user = await call.identities.user(call.accountId, required(call.form, 'UserName'));
    const { items, ...more } = page(call.form, user.tags);
    return { Tags: items, ...more };
  },
  async TagRole(call) {
    await rolesOf(call).tagRole(call.accountId, required(call.form, 'RoleName'), tagMembers(requiredList(call.form, 'Tags')));
    return undefined;
  },
  async UntagRole(call) {
    await rolesOf(call).untagRole(call.accountId, required(call.form, 'RoleName'), members(requiredList(call.form, 'TagKeys'), 'TagKeys'));
    return undefined;
  },
  async ListRoleTags(call) {
    const role = await rolesOf(call).role(call.accountId, required(call.form, 'RoleName'));
    const { items, ...more } = page(call.form, role.tags);
    return { Tags: items, ...more };
  },
};
