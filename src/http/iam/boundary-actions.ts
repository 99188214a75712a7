/**
 * IAM's permissions boundary actions (`aws iam put-user-permissions-boundary`, ...), the
 * `PermissionsBoundary` element GetUser and GetRole answer with, and the `iam:PermissionsBoundary`
 * condition key: on the actions that set a boundary it is the one asked for, on those that change
 * a user's or role's policies or remove its boundary it is the one it has (IAM's service
 * authorization reference), so an administrator may be allowed to create and manage users and
 * roles only with a given boundary.
 */
import type { IdentityAdmin } from '../../auth/identity-admin.js';
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

/** The actions whose `iam:PermissionsBoundary` is the boundary the request sets. */
const SETS = new Set(['CreateUser', 'CreateRole', 'PutUserPermissionsBoundary', 'PutRolePermissionsBoundary']);
/** The actions whose `iam:PermissionsBoundary` is the boundary the named user or role has. */
const HAS = new Set([
  'AttachUserPolicy',
  'DetachUserPolicy',
  'PutUserPolicy',
  'DeleteUserPolicy',
  'DeleteUserPermissionsBoundary',
  'AttachRolePolicy',
  'DetachRolePolicy',
  'PutRolePolicy',
  'DeleteRolePolicy',
  'DeleteRolePermissionsBoundary',
]);

/** `iam:PermissionsBoundary` for IAM's `name` (absent when the action has none, or the entity none or no longer exists). */
export async function boundaryCondition(identities: IdentityAdmin, accountId: string, name: string, form: URLSearchParams): Promise<Record<string, string>> {
  let arn: string | undefined;
  if (SETS.has(name)) arn = form.get('PermissionsBoundary') ?? undefined;
  else if (HAS.has(name)) {
    const role = form.get('RoleName');
    const user = form.get('UserName');
    if (role !== null) arn = (await identities.roles?.roleRecord(accountId, role))?.permissionsBoundary;
    else if (user !== null) arn = (await identities.userRecord(accountId, user))?.permissionsBoundary;
  }
  return arn === undefined ? {} : { 'iam:PermissionsBoundary': arn };
}
