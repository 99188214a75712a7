/**
 * IAM's permissions boundary actions (`aws iam put-user-permissions-boundary`, ...), the
 * `PermissionsBoundary` element GetUser and GetRole answer with. The `iam:PermissionsBoundary`
 * condition key, with which an administrator may be allowed to create and manage users and roles
 * only with a given boundary, is with IAM's other keys in condition-keys/iam.ts.
 */
import type { QueryAction } from './actions.js';
import { required, type XmlValue } from './query.js';
import { rolesOf } from './role-actions.js';

/** `{ PermissionsBoundary: {...} }` for a user or role that has one, as GetUser and GetRole answer (ListUsers and ListRoles do not). */
export function boundaryXml(arn: string | undefined): Record<string, XmlValue> {
  return arn === undefined ? {} : { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: arn } };
}

export const boundaryActions: Record<string, QueryAction> = {
  async PutUserPermissionsBoundary(call) {
    await call.identities.setUserBoundary(call.accountId, required(call.form, 'UserName'), required(call.form, 'PermissionsBoundary'));
    return undefined;
  },
  async DeleteUserPermissionsBoundary(call) {
    await call.identities.setUserBoundary(call.accountId, required(call.form, 'UserName'), null);
    return undefined;
  },
  async PutRolePermissionsBoundary(call) {
    await rolesOf(call).setRoleBoundary(call.accountId, required(call.form, 'RoleName'), required(call.form, 'PermissionsBoundary'));
    return undefined;
  },
  async DeleteRolePermissionsBoundary(call) {
    await rolesOf(call).setRoleBoundary(call.accountId, required(call.form, 'RoleName'), null);
    return undefined;
  },
};
