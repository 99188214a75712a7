/**
 * IAM's user tagging actions (`aws iam tag-user`, `untag-user`, `list-user-tags`, Terraform's
 * aws_iam_user `tags`): thin renderings of auth/identity-admin.ts's rules. A user's tags are its
 * aws:PrincipalTag/* on every request it signs (http/authn.ts).
 */
import type { QueryAction } from './actions.js';
import { page } from './policy-actions.js';
import { required } from './query.js';
import { members, tagMembers } from './role-actions.js';

export const userTagActions: Record<string, QueryAction> = {
  async TagUser(call) {
    await call.identities.tagUser(call.accountId, required(call.form, 'UserName'), tagMembers(call.form));
    return undefined;
  },
  async UntagUser(call) {
    await call.identities.untagUser(call.accountId, required(call.form, 'UserName'), members(call.form, 'TagKeys'));
    return undefined;
  },
  async ListUserTags(call) {
    const user = await call.identities.user(call.accountId, required(call.form, 'UserName'));
    const { items, ...more } = page(call.form, user.tags);
    return { Tags: items, ...more };
  },
};
