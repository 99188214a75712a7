/**
 * The principal a service acts as when it uses a customer's role (a repository creation
 * template's customRoleArn, an EventBridge target's RoleArn): a session of the role, whose
 * identity policies (and boundary) the authorizers read. Berth never assumes the role: no
 * credentials exist, the session only names the role's policies to the evaluator. A role that
 * is not there is no session: whatever would be asked of it is refused.
 */
import type { IdentityAdmin } from '../auth/identity-admin.js';
import { assumedRoleArn, roleArn, type Principal } from '../auth/principal.js';
import { parseTrustPolicy } from '../auth/role-admin.js';
import { evaluate } from '../iam/evaluator.js';
import type { Policy } from '../iam/policy.js';
import type { RoleRecord } from '../metadata/roles.js';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role(\/(?:[^/]+\/)*)([^/]+)$/;

/** The role's account, or undefined when `arn` is no role's ARN. */
export function roleAccountOf(arn: string): string | undefined {
  return ROLE_ARN.exec(arn)?.[1];
}

/**
 * A session `sessionName` of the role `arn` names; undefined when `arn` is no role's ARN, or names
 * no role as it is: the role must have exactly that name and path, as an ARN names one role only.
 * (Policies are read by the role's name: an ARN with another path, or another case, naming an
 * existing role would otherwise get that role's policies while iam:PassRole was asked on the
 * ARN as written: passing `role/team-a/admin` for the `/ops/` role `admin`.)
 */
export async function serviceRoleSession(
  identities: IdentityAdmin,
  arn: string,
  sessionName: string,
  assumedBy: AssumingService,
): Promise<Principal | undefined> {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  const [, accountId, path, name] = m as unknown as [string, string, string, string];
  const record = await identities.roles?.roleRecord(accountId, name);
  if (record === undefined || record.name !== name || record.path !== path) return undefined;
  if (!trustsService(record, assumedBy)) return undefined;
  return {
    arn: assumedRoleArn(accountId, name, sessionName),
    accountId,
    kind: 'role',
    principalArn: roleArn(accountId, name, path),
    principalTags: Object.fromEntries(record.tags.map((t) => [t.Key, t.Value])),
    session: {
      token: '',
      issuedAt: new Date(0),
      expiresAt: new Date(0),
      role: { name, path, roleId: record.roleId, sessionName },
    },
  };
}

/** The service that would assume the role, and the facts it gives the trust policy (aws:SourceAccount, aws:SourceArn). */
export interface AssumingService {
  /** `events.amazonaws.com`. */
  service: string;
  sourceAccount: string;
  sourceArn?: string;
}

/**
 * Whether the role's trust policy lets `assumedBy.service` assume it, as the service's own
 * AssumeRole would need: a role that trusts only its people (or another service) is not one the
 * service may use, whoever may pass it.
 */
function trustsService(role: RoleRecord, assumedBy: AssumingService): boolean {
  let trust: Policy;
  try {
    trust = parseTrustPolicy(role.trustPolicy, true);
  } catch {
    return false;
  }
  return evaluate({
    // A service is named in a trust policy as Service: <name>, which the policy keeps as service:<name>.
    caller: { kind: 'federated', arn: `service:${assumedBy.service}`, accountId: role.accountId },
    identityPolicies: [],
    resourcePolicies: [trust],
    resourcePolicyRequired: true,
    action: 'sts:AssumeRole',
    resource: roleArn(role.accountId, role.name, role.path),
    resourceAccountId: role.accountId,
    context: {
      'aws:SourceAccount': assumedBy.sourceAccount,
      ...(assumedBy.sourceArn !== undefined && { 'aws:SourceArn': assumedBy.sourceArn }),
      'aws:PrincipalServiceName': assumedBy.service,
    },
  }).allowed;
}
