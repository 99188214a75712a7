/**
 * IAM's role and OpenID Connect provider actions (`aws iam create-role`, `put-role-policy`,
 * `create-open-id-connect-provider`, ...): thin renderings of auth/role-admin.ts's rules.
 */
import { IamCodes } from '../../core/errors.js';
import { roleArn } from '../../auth/principal.js';
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import { oidcProviderArn, type RoleAdmin } from '../../auth/role-admin.js';
import type { RoleRecord } from '../../metadata/roles.js';
import type { QueryAction, QueryCall } from './actions.js';
import { boundaryXml } from './boundary-actions.js';
import { QueryError, required, type XmlValue } from './query.js';
import { attachedPage, inlinePage, pageOf } from './paging.js';
import { integerParam } from '../model/query.js';

/** `Name.member.1`, `Name.member.2`, ... in order, until the first gap. */
export function members(form: URLSearchParams, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; i <= 1000; i++) {
    const v = form.get(`${name}.member.${i}`);
    if (v === null) break;
    out.push(v);
  }
  return out;
}

/** `Tags.member.N.Key` / `.Value` pairs. */
export function tagMembers(form: URLSearchParams, name = 'Tags'): Array<{ Key: string; Value: string }> {
  const out: Array<{ Key: string; Value: string }> = [];
  for (let i = 1; i <= 1000; i++) {
    const key = form.get(`${name}.member.${i}.Key`);
    if (key === null) break;
    out.push({ Key: key, Value: form.get(`${name}.member.${i}.Value`) ?? '' });
  }
  return out;
}

export function rolesOf(call: QueryCall): RoleAdmin {
  if (!call.identities.roles) throw new QueryError(IamCodes.ServiceFailure, 'roles are not available on this server');
  return call.identities.roles;
}

// An integer member is an integer by the time an action runs (input.ts refused any other).
const integer = integerParam;

/** A role as IAM answers it; tags and its permissions boundary only where GetRole and CreateRole give them (not ListRoles). */
function roleXml(r: RoleRecord, withTags: boolean): XmlValue {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.roleId,
    Arn: roleArn(r.accountId, r.name, r.path),
    CreateDate: r.createdAt,
    // URL-encoded, as IAM returns policy documents (the CLI decodes them).
    AssumeRolePolicyDocument: encodeURIComponent(r.trustPolicy),
    ...(r.description !== '' && { Description: r.description }),
    MaxSessionDuration: r.maxSessionDuration,
    ...(withTags && r.tags.length > 0 && { Tags: r.tags }),
    ...(withTags && boundaryXml(r.permissionsBoundary)),
  };
}

export const roleActions: Record<string, QueryAction> = {
  async CreateRole(call) {
    const f = call.form;
    const maxSessionDuration = integer(f, 'MaxSessionDuration');
    const role = await rolesOf(call).createRole(call.accountId, {
      name: required(f, 'RoleName'),
      trustPolicy: required(f, 'AssumeRolePolicyDocument'),
      ...(f.get('Path') !== null && { path: f.get('Path')! }),
      ...(f.get('Description') !== null && { description: f.get('Description')! }),
      ...(maxSessionDuration !== undefined && { maxSessionDuration }),
      tags: tagMembers(f),
      ...(f.get('PermissionsBoundary') !== null && { permissionsBoundary: f.get('PermissionsBoundary')! }),
    });
    return { Role: roleXml(role, true) };
  },
  async GetRole(call) {
    return { Role: roleXml(await rolesOf(call).role(call.accountId, required(call.form, 'RoleName')), true) };
  },
  async ListRoles(call) {
    const roles = await rolesOf(call).listRoles(call.accountId, call.form.get('PathPrefix') ?? '/');
    return pageOf(call.form, 'Roles', roles, (r) => roleXml(r, false));
  },
  async UpdateRole(call) {
    const maxSessionDuration = integer(call.form, 'MaxSessionDuration');
    const description = call.form.get('Description');
    await rolesOf(call).updateRole(call.accountId, required(call.form, 'RoleName'), {
      ...(description !== null && { description }),
      ...(maxSessionDuration !== undefined && { maxSessionDuration }),
    });
    return {};
  },
  async UpdateAssumeRolePolicy(call) {
    await rolesOf(call).updateTrustPolicy(call.accountId, required(call.form, 'RoleName'), required(call.form, 'PolicyDocument'));
    return undefined;
  },
  async DeleteRole(call) {
    await rolesOf(call).deleteRole(call.accountId, required(call.form, 'RoleName'));
    return undefined;
  },
  async PutRolePolicy(call) {
    const document = required(call.form, 'PolicyDocument');
    call.checkPolicy(document);
    await rolesOf(call).putRolePolicy(call.accountId, required(call.form, 'RoleName'), required(call.form, 'PolicyName'), document);
    return undefined;
  },
  async GetRolePolicy(call) {
    const roleName = required(call.form, 'RoleName');
    const name = required(call.form, 'PolicyName');
    const p = (await rolesOf(call).rolePolicies(call.accountId, roleName)).find((x) => x.kind === 'inline' && x.name === name);
    if (!p) throw new QueryError(IamCodes.NoSuchEntity, `The role policy with name ${name} cannot be found.`);
    const asMade = await call.identities.nameAsMade(call.accountId, 'role', roleName);
    return { RoleName: asMade, PolicyName: name, PolicyDocument: encodeURIComponent(p.document ?? '') };
  },
  async ListRolePolicies(call) {
    const policies = await rolesOf(call).rolePolicies(call.accountId, required(call.form, 'RoleName'));
    return inlinePage(call.form, policies);
  },
  async DeleteRolePolicy(call) {
    await rolesOf(call).removeRolePolicy(call.accountId, required(call.form, 'RoleName'), 'inline', required(call.form, 'PolicyName'));
    return undefined;
  },
  async AttachRolePolicy(call) {
    const arn = required(call.form, 'PolicyArn');
    await call.identities.requireAttachable(call.accountId, arn);
    await rolesOf(call).attachRolePolicy(call.accountId, required(call.form, 'RoleName'), arn);
    return undefined;
  },
  async DetachRolePolicy(call) {
    await rolesOf(call).removeRolePolicy(call.accountId, required(call.form, 'RoleName'), 'managed', required(call.form, 'PolicyArn'));
    return undefined;
  },
  async ListAttachedRolePolicies(call) {
    const policies = await rolesOf(call).rolePolicies(call.accountId, required(call.form, 'RoleName'));
    return attachedPage(call.form, policies);
  },

  async CreateOpenIDConnectProvider(call) {
    const p = await rolesOf(call).createOidcProvider(
      call.accountId,
      required(call.form, 'Url'),
      members(call.form, 'ClientIDList'),
      members(call.form, 'ThumbprintList'),
    );
    return { OpenIDConnectProviderArn: oidcProviderArn(p.accountId, p.url) };
  },
  async GetOpenIDConnectProvider(call) {
    const p = await rolesOf(call).oidcProviderByArn(required(call.form, 'OpenIDConnectProviderArn'));
    if (p.accountId !== call.accountId) throw new QueryError(IamCodes.NoSuchEntity, 'OpenIDConnect Provider not found');
    return { Url: p.url.replace(/^https?:\/\//, ''), ClientIDList: p.clientIds, ThumbprintList: p.thumbprints, CreateDate: p.createdAt };
  },
  async ListOpenIDConnectProviders(call) {
    const ps = await rolesOf(call).listOidcProviders(call.accountId);
    return { OpenIDConnectProviderList: ps.map((p) => ({ Arn: oidcProviderArn(p.accountId, p.url) })) };
  },
  async DeleteOpenIDConnectProvider(call) {
    const arn = required(call.form, 'OpenIDConnectProviderArn');
    if (!arn.startsWith(`arn:aws:iam::${call.accountId}:`)) throw new QueryError(IamCodes.NoSuchEntity, 'OpenIDConnect Provider not found');
    await rolesOf(call).deleteOidcProvider(arn);
    return undefined;
  },
};

/**
 * The resource an IAM action acts on, for `iam:<Action>` authorization. Roles, groups and users
 * by their ARN with its path, as IAM builds it (a policy on `user/admins/*` covers the users made
 * with path /admins/): an existing entity's path, or for one the request makes the path it asks
 * for. A managed policy (its own actions, ListEntitiesForPolicy) by its ARN when no user or role
 * is named (Attach/Detach*Policy act on the user or role). A name given in another case than the
 * entity's is the entity (IAM's names are not told apart by case), and its ARN is the entity's,
 * as policies name it: DeleteUser of BOB is a DeleteUser on user/bob.
 */
export async function iamResourceOf(identities: IdentityAdmin, accountId: string, form: URLSearchParams): Promise<string> {
  const arnOf = async (kind: 'user' | 'role' | 'group', name: string) => {
    const made = await identities.entityNamed(accountId, kind, name);
    return `arn:aws:iam::${accountId}:${kind}${made?.path ?? requestedPath(form)}${made?.name ?? name}`;
  };
  const role = form.get('RoleName');
  if (role !== null) return arnOf('role', role);
  // A group's actions (AddUserToGroup names a user too) act on the group.
  const group = form.get('GroupName');
  if (group !== null) return arnOf('group', group);
  const user = form.get('UserName');
  if (user !== null) return arnOf('user', user);
  // CreatePolicy names the policy it makes by its name and path.
  const policy = form.get('PolicyName');
  const created = policy === null ? null : `arn:aws:iam::${accountId}:policy${requestedPath(form)}${policy}`;
  return form.get('OpenIDConnectProviderArn') ?? form.get('PolicyArn') ?? created ?? '*';
}

/** The Path a create asks for when it is one IAM accepts, else `/` (the request is refused by its validation after). */
function requestedPath(form: URLSearchParams): string {
  const path = form.get('Path');
  return path !== null && path.length <= 512 && /^\/(?:[\u0021-\u007e]*\/)?$/.test(path) ? path : '/';
}
