/**
 * IAM's managed-policy listings: ListPolicies (the AWS managed policies Berth keeps and the
 * account's own) and ListEntitiesForPolicy (who uses one: Terraform's aws_iam_policy_attachment,
 * the console's "policy usage"), with IAM's filters: PolicyUsageFilter (`PermissionsPolicy`:
 * attached as a permissions policy; `PermissionsBoundary`: set as a boundary), OnlyAttached,
 * Scope, PathPrefix, and Marker/MaxItems paging. ListPolicies counts uses in one query;
 * ListEntitiesForPolicy reads the account's users, roles and groups.
 */
import { customerPolicyArn } from '../../auth/customer-policies.js';
import { IamCodes } from '../../core/errors.js';
import { MANAGED_POLICIES } from '../../iam/managed.js';
import type { QueryAction, QueryCall } from './actions.js';
import { awsPolicyXml, customerPolicyXml } from './customer-policy-actions.js';
import { page } from './paging.js';
import { QueryError, required, type XmlValue } from './query.js';

/** A user, role or group, and how it uses managed policies (a group has no boundary). */
interface Entity {
  kind: 'user' | 'role' | 'group';
  name: string;
  id: string;
  path: string;
  attached: string[];
  boundary: string | undefined;
}

type Usage = 'PermissionsPolicy' | 'PermissionsBoundary';
type Counts = { attachments: number; boundaries: number };

async function entitiesOf(call: QueryCall): Promise<Entity[]> {
  const { identities, accountId } = call;
  const out: Entity[] = [];
  for (const u of await identities.listUsers(accountId)) {
    const attached = (await identities.userPolicies(accountId, u.name)).filter((p) => p.kind === 'managed').map((p) => p.name);
    out.push({ kind: 'user', name: u.name, id: u.userId, path: u.path, attached, boundary: u.permissionsBoundary });
  }
  const roles = identities.roles;
  for (const r of roles ? await roles.listRoles(accountId, '/') : []) {
    const attached = (await roles!.rolePolicies(accountId, r.name)).filter((p) => p.kind === 'managed').map((p) => p.name);
    out.push({ kind: 'role', name: r.name, id: r.roleId, path: r.path, attached, boundary: r.permissionsBoundary });
  }
  const groups = identities.groups;
  for (const g of groups ? await groups.listGroups(accountId) : []) {
    const attached = (await groups!.groupPolicies(accountId, g.name)).filter((p) => p.kind === 'managed').map((p) => p.name);
    out.push({ kind: 'group', name: g.name, id: g.groupId, path: g.path, attached, boundary: undefined });
  }
  return out;
}

/** Whether `e` uses `arn` the way asked (either way when `usage` is undefined). */
function uses(e: Entity, arn: string, usage: Usage | undefined): boolean {
  const policy = usage !== 'PermissionsBoundary' && e.attached.includes(arn);
  return policy || (usage !== 'PermissionsPolicy' && e.boundary === arn);
}

export const policyActions: Record<string, QueryAction> = {
  async ListPolicies(call) {
    const f = call.form;
    // AWS's managed policies Berth keeps are all at path '/'; Scope=Local lists the account's own.
    const prefix = f.get('PathPrefix') ?? '/';
    const usage = (f.get('PolicyUsageFilter') ?? undefined) as Usage | undefined;
    const onlyAttached = f.get('OnlyAttached') === 'true';
    const scope = f.get('Scope') ?? 'All';
    const used = new Map((await call.identities.managedPolicyUsage(call.accountId)).map((u) => [u.arn, u]));
    const aws = scope === 'Local' || !'/'.startsWith(prefix) ? [] : Object.keys(MANAGED_POLICIES);
    const own = scope === 'AWS' ? [] : ((await call.identities.policies?.list(call.accountId))?.filter((p) => p.path.startsWith(prefix)) ?? []);
    // Each listed policy's answer, given its counts.
    const xml = new Map<string, (used: Counts) => XmlValue>([
      ...aws.map((arn) => [arn, (used: Counts) => awsPolicyXml(arn, used)] as const),
      ...own.map((p) => [customerPolicyArn(p), (used: Counts) => customerPolicyXml(p, used, false)] as const),
    ]);
    const policies = [...xml.keys()]
      .map((arn) => ({ arn, attachments: used.get(arn)?.attachments ?? 0, boundaries: used.get(arn)?.boundaries ?? 0 }))
      // OnlyAttached is IAM's AttachmentCount: a policy used only as a boundary is not attached.
      .filter((p) =>
        usage === 'PermissionsPolicy' ? p.attachments > 0 : usage === 'PermissionsBoundary' ? p.boundaries > 0 : !onlyAttached || p.attachments > 0,
      );
    const { items, ...more } = page(f, policies);
    return {
      Policies: items.map((p) => xml.get(p.arn)!({ attachments: p.attachments, boundaries: p.boundaries })),
      ...more,
    };
  },
  async ListEntitiesForPolicy(call) {
    const f = call.form;
    const arn = required(f, 'PolicyArn');
    if (!(await call.identities.hasManagedPolicy(call.accountId, arn))) throw new QueryError(IamCodes.NoSuchEntity, `Policy ${arn} was not found.`);
    const filter = f.get('EntityFilter');
    const prefix = f.get('PathPrefix') ?? '/';
    const usage = (f.get('PolicyUsageFilter') ?? undefined) as Usage | undefined;
    // An entity filter of a policy kind (LocalManagedPolicy, AWSManagedPolicy) names no user, role or group.
    const kinds =
      filter === null ? ['user', 'role', 'group'] : filter === 'User' ? ['user'] : filter === 'Role' ? ['role'] : filter === 'Group' ? ['group'] : [];
    const found = (await entitiesOf(call)).filter((e) => kinds.includes(e.kind) && e.path.startsWith(prefix) && uses(e, arn, usage));
    const { items, ...more } = page(f, found);
    return {
      PolicyGroups: items.filter((e) => e.kind === 'group').map((e) => ({ GroupName: e.name, GroupId: e.id })),
      PolicyUsers: items.filter((e) => e.kind === 'user').map((e) => ({ UserName: e.name, UserId: e.id })),
      PolicyRoles: items.filter((e) => e.kind === 'role').map((e) => ({ RoleName: e.name, RoleId: e.id })),
      ...more,
    };
  },
};
