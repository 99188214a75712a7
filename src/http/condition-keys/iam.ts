/**
 * IAM's own condition keys (the Service Authorization Reference's "AWS Identity and Access
 * Management"), for the actions Berth serves, read from the request and from the entity it acts on:
 *
 * - `iam:PolicyARN`: the managed policy an Attach/Detach{User,Role,Group}Policy names, so "attach
 *   any policy but AdministratorAccess" (`ArnNotEquals`) refuses what it names;
 * - `iam:PermissionsBoundary`: on the actions that set a boundary, the one asked for; on those that
 *   change a user's or role's policies or remove its boundary, the one it has;
 * - `aws:RequestTag/*` and `aws:TagKeys`: the tags a Create*, TagUser, TagRole or TagPolicy sets, the keys
 *   UntagUser, UntagRole or UntagPolicy removes (whether or not Berth keeps the tags: CreateOpenIDConnectProvider's
 *   it does not, but the request carries them);
 * - `aws:ResourceTag/*` (and, for a role or user, `iam:ResourceTag/*`): the tags of the role, user or
 *   customer managed policy acted on.
 */
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import { IdentityError } from '../../auth/identity-admin.js';
import type { UserRecord } from '../../metadata/identities.js';
import type { RoleRecord } from '../../metadata/roles.js';
import { members, tagMembers } from '../iam/role-actions.js';
import type { ConditionContext } from './global.js';
import { removedTagKeys, requestTagKeys, resourceTagKeys } from './tags.js';

/** The actions whose `iam:PolicyARN` is the managed policy they attach or detach. */
const NAMES_POLICY = new Set(['AttachUserPolicy', 'DetachUserPolicy', 'AttachRolePolicy', 'DetachRolePolicy', 'AttachGroupPolicy', 'DetachGroupPolicy']);
/** The actions whose `iam:PermissionsBoundary` is the boundary the request sets. */
const SETS_BOUNDARY = new Set(['CreateUser', 'CreateRole', 'PutUserPermissionsBoundary', 'PutRolePermissionsBoundary']);
/** The actions whose `iam:PermissionsBoundary` is the boundary the named user or role has. */
const HAS_BOUNDARY = new Set([
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
/** The actions that set tags (`Tags.member.N`): aws:RequestTag/* and aws:TagKeys. */
const SETS_TAGS = new Set(['CreateUser', 'CreateRole', 'CreatePolicy', 'CreateOpenIDConnectProvider', 'TagUser', 'TagRole', 'TagPolicy']);
/** The actions that remove tags (`TagKeys.member.N`): aws:TagKeys. */
const REMOVES_TAGS = new Set(['UntagUser', 'UntagRole', 'UntagPolicy']);
/** Actions on a policy whose PolicyArn names the resource acted on (Attach/Detach act on the user, role or group). */
const ON_POLICY =
  /^(?:GetPolicy|DeletePolicy|CreatePolicyVersion|GetPolicyVersion|ListPolicyVersions|DeletePolicyVersion|SetDefaultPolicyVersion|TagPolicy|UntagPolicy|ListPolicyTags|ListEntitiesForPolicy)$/;
/** Actions that create the role or user they name: it has no tags yet (one of the name may exist; its tags are not this request's). */
const CREATES_ENTITY = new Set(['CreateRole', 'CreateUser']);

/** The condition keys of IAM's `name` with parameters `form`, in `accountId`. */
export async function iamConditionKeys(identities: IdentityAdmin, accountId: string, name: string, form: URLSearchParams): Promise<ConditionContext> {
  const out: ConditionContext = {};
  const roleName = form.get('RoleName');
  const userName = form.get('UserName');
  let role: Promise<RoleRecord | undefined> | undefined;
  const roleRecord = () =>
    (role ??= roleName === null ? Promise.resolve(undefined) : (identities.roles?.roleRecord(accountId, roleName) ?? Promise.resolve(undefined)));
  let user: Promise<UserRecord | undefined> | undefined;
  const userRecord = () => (user ??= userName === null ? Promise.resolve(undefined) : identities.userRecord(accountId, userName));

  if (NAMES_POLICY.has(name)) out['iam:PolicyARN'] = form.get('PolicyArn') ?? undefined;
  let boundary: string | undefined;
  if (SETS_BOUNDARY.has(name)) boundary = form.get('PermissionsBoundary') ?? undefined;
  else if (HAS_BOUNDARY.has(name)) {
    if (roleName !== null) boundary = (await roleRecord())?.permissionsBoundary;
    else if (userName !== null) boundary = (await userRecord())?.permissionsBoundary;
  }
  if (boundary !== undefined) out['iam:PermissionsBoundary'] = boundary;
  if (SETS_TAGS.has(name)) Object.assign(out, requestTagKeys(tagMembers(form)));
  if (REMOVES_TAGS.has(name)) Object.assign(out, removedTagKeys(members(form, 'TagKeys')));

  // The resource's tags, in iamResourceOf's order: the role's when the action names one, else the
  // user's when it names one and no group (a group's actions act on the group), else a customer policy's.
  if (roleName !== null) {
    if (!CREATES_ENTITY.has(name)) Object.assign(out, resourceTagKeys((await roleRecord())?.tags ?? [], ['iam']));
  } else if (userName !== null && form.get('GroupName') === null) {
    if (!CREATES_ENTITY.has(name)) Object.assign(out, resourceTagKeys((await userRecord())?.tags ?? [], ['iam']));
  } else if (ON_POLICY.test(name) && form.get('PolicyArn') !== null && form.get('GroupName') === null && userName === null) {
    Object.assign(out, resourceTagKeys(await policyTags(identities, accountId, form.get('PolicyArn')!), []));
  }
  return out;
}

/** A customer managed policy's tags; none for one that does not exist (the action answers NoSuchEntity) or an AWS managed one. */
async function policyTags(identities: IdentityAdmin, accountId: string, arn: string): Promise<Array<{ Key: string; Value: string }>> {
  if (identities.policies === undefined) return [];
  try {
    return (await identities.policies.get(accountId, arn)).tags;
  } catch (e) {
    if (e instanceof IdentityError) return [];
    throw e;
  }
}
