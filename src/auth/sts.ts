/**
 * STS's rules: who may assume which role (the role's trust policy, and for a trust naming an
 * account the caller's own identity policies), for how long, with which session tags and
 * session policy; and the temporary credentials that result (session-token.ts seals them).
 * Web identities (AssumeRoleWithWebIdentity) come in through web-identity.ts and end here.
 */
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import { assumeRoleDeniedMessage, WEB_IDENTITY_DENIED_MESSAGE } from '../iam/denial.js';
import { evaluate, type Caller, type IdentityPolicies } from '../iam/evaluator.js';
import { parsePolicy, PolicyError, type Policy } from '../iam/policy.js';
import type { RoleRecord } from '../metadata/roles.js';
import { generateSecretAccessKey, generateTemporaryAccessKeyId } from './access-keys.js';
import { IdentityError } from './identity-admin.js';
import { assumedRoleArn, roleArn, type Principal, type SessionFacts } from './principal.js';
import { checkTags, parseTrustPolicy, type RoleAdmin } from './role-admin.js';
import { MAX_SESSION_TOKEN_CHARS, sealSessionToken, type SessionClaims } from './session-token.js';

const ROLE_ARN_RE = /^arn:aws:iam::(\d{12}):role(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,64})$/;
const MAX_SESSION_POLICY_CHARS = 2048;
/** STS: "You can provide up to 10 managed policy ARNs" (the model's list bound, checked at the door too). */
const MAX_POLICY_ARNS = 10;
/** A role session assuming another role ("role chaining") gets at most an hour, as in AWS. */
const CHAINED_MAX_DURATION = 3600;
const USER_SESSION_MAX = 129600;
const USER_SESSION_DEFAULT = 43200;

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface AssumedRole {
  credentials: TemporaryCredentials;
  assumedRoleId: string;
  arn: string;
  /** Percent of the allowed packed size the session policy and tags use, as STS reports it. */
  packedPolicySize: number;
  sourceIdentity?: string;
}

/** What a new role session carries beyond its role and name. */
interface SessionGrant {
  /** The session tags passed (with those inherited in a chain): aws:PrincipalTag/* over the role's tags. */
  tags: Array<{ Key: string; Value: string }>;
  transitiveTags?: Record<string, string>;
  sourceIdentity?: string;
  policy?: string;
  policyArns?: readonly string[];
}

export interface AssumeRoleRequest {
  roleArn: string;
  sessionName: string;
  durationSeconds?: number;
  /** An inline session policy document. */
  policy?: string;
  /** Managed session policies (PolicyArns): AWS's or the role's account's own. */
  policyArns?: string[];
  tags?: Array<{ Key: string; Value: string }>;
  /** Which of `tags` sessions chained from this one inherit. */
  transitiveTagKeys?: string[];
  /** SourceIdentity: set once in a role chain (sts:SetSourceIdentity), aws:SourceIdentity from then on. */
  sourceIdentity?: string;
  /** Condition keys of the request (the global ones, sts:ExternalId, ...). */
  context?: Record<string, string | string[] | undefined>;
}

const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';
const denied = (who: string, action: string, resource: string) =>
  new IdentityError(IamCodes.AccessDenied, action === WEB_IDENTITY_ACTION ? WEB_IDENTITY_DENIED_MESSAGE : assumeRoleDeniedMessage(who, action, resource));

export class SecurityTokenService {
  constructor(
    private readonly roles: RoleAdmin,
    private readonly clock: Clock,
    /** The current server key, which seals session tokens. */
    private readonly serverKey: Buffer,
    /**
     * This deployment's region, which its sessions name: peer regions share the server key, not
     * identities, so a session is refused in any other region (authn.ts), as login tokens are.
     */
    private readonly region?: string,
  ) {}

  /**
   * AssumeRole for a signed-in caller, whose identity policies are given. A role that does not
   * exist is answered as a denial, as STS does, so callers cannot probe for role names.
   */
  async assumeRole(caller: Principal, identity: IdentityPolicies, req: AssumeRoleRequest): Promise<AssumedRole> {
    const action = 'sts:AssumeRole';
    if (caller.kind === 'root') throw new IdentityError(IamCodes.AccessDenied, 'Roles may not be assumed by root accounts.');
    if (caller.kind === 'anonymous') throw denied(caller.arn, action, req.roleArn);
    const role = await this.resolveRole(req.roleArn, caller.arn, action);
    const maxDuration = caller.kind === 'role' ? Math.min(CHAINED_MAX_DURATION, role.maxSessionDuration) : role.maxSessionDuration;
    const duration = checkDuration(req.durationSeconds ?? 3600, maxDuration, caller.kind === 'role');
    if (req.policy !== undefined) parseSessionPolicy(req.policy);
    await this.checkPolicyArns(role, req.policyArns);
    return this.admit(caller, identity, role, action, { ...req, context: { ...req.context, 'sts:RoleSessionName': req.sessionName } }, duration);
  }

  /**
   * The role a web identity asks for, once its token was verified (web-identity.ts): the trust
   * policy must name the provider (`Federated`) and its conditions hold over the token's claims.
   */
  async assumeRoleAsWebIdentity(providerArn: string, claims: Record<string, string | string[] | undefined>, req: AssumeRoleRequest): Promise<AssumedRole> {
    const action = WEB_IDENTITY_ACTION;
    const role = await this.resolveRole(req.roleArn, providerArn, action);
    const duration = checkDuration(req.durationSeconds ?? 3600, role.maxSessionDuration, false);
    if (req.policy !== undefined) parseSessionPolicy(req.policy);
    await this.checkPolicyArns(role, req.policyArns);
    const caller: Caller = { kind: 'federated', arn: `federated:${providerArn}`, accountId: role.accountId };
    // sts:RoleSessionName is in the context of "any AssumeRole API operation" (IAM's STS condition keys).
    const context = { ...req.context, ...claims, 'sts:RoleSessionName': req.sessionName };
    return this.admit(caller, { policies: [] }, role, action, { ...req, context }, duration);
  }

  /**
   * The trust policy's decisions on a session and the session made: `action` itself, then
   * sts:TagSession for session tags (passed or inherited) and sts:SetSourceIdentity for a source identity set or carried
   * along a chain. The session tags are in the request context of each (STS's service
   * authorization reference), so a trust policy can refuse a role to a request by its tags;
   * sts:SourceIdentity is the chain's once set, so a chained session cannot put another before it.
   */
  private admit(caller: Caller, identity: IdentityPolicies, role: RoleRecord, action: string, req: AssumeRoleRequest, duration: number): AssumedRole {
    const tags = req.tags ?? [];
    checkTags(tags, 'session tags');
    const chain = chainedFacts(caller.kind === 'role' ? (caller as Principal).session : undefined, tags, req);
    const context: Record<string, string | string[] | undefined> = { ...req.context, 'sts:SourceIdentity': chain.sourceIdentity };
    for (const t of tags) context[`aws:RequestTag/${t.Key}`] = t.Value;
    if (tags.length > 0) context['aws:TagKeys'] = tags.map((t) => t.Key);
    this.trust(caller, identity, role, action, context);
    // Inherited transitive tags tag the new session too: failing closed where STS's pages do not
    // say, they need sts:TagSession as passed ones do (IAM's chaining example allows it on every role).
    if (tags.length > 0 || Object.keys(chain.inherited).length > 0) this.trust(caller, identity, role, 'sts:TagSession', context);
    if (chain.sourceIdentity !== undefined) this.trust(caller, identity, role, 'sts:SetSourceIdentity', context);
    return this.mint(role, req.sessionName, duration, {
      tags: [...tags, ...Object.entries(chain.inherited).map(([Key, Value]) => ({ Key, Value }))],
      ...(Object.keys(chain.transitiveTags).length > 0 && { transitiveTags: chain.transitiveTags }),
      ...(chain.sourceIdentity !== undefined && { sourceIdentity: chain.sourceIdentity }),
      ...(req.policy !== undefined && { policy: req.policy }),
      ...(req.policyArns !== undefined && { policyArns: req.policyArns }),
    });
  }

  /** GetSessionToken: a user's (or root's) own identity, for a while, with temporary credentials. */
  getSessionToken(caller: Principal, durationSeconds?: number): TemporaryCredentials {
    if (caller.kind !== 'user' && caller.kind !== 'root')
      throw new IdentityError(IamCodes.AccessDenied, 'Cannot call GetSessionToken with session credentials');
    if (caller.session !== undefined) throw new IdentityError(IamCodes.AccessDenied, 'Cannot call GetSessionToken with session credentials');
    const max = caller.kind === 'root' ? 3600 : USER_SESSION_MAX;
    const duration = checkDuration(durationSeconds ?? Math.min(USER_SESSION_DEFAULT, max), max, false);
    const m = /^arn:aws:iam::\d{12}:user(\/(?:.*\/)?)[^/]+$/.exec(caller.arn);
    // The user's id binds the session to this user: one deleted and made again under the name is another.
    const subject: SessionClaims['subject'] =
      caller.kind === 'root'
        ? { kind: 'root' }
        : { kind: 'user', userName: caller.userName!, userPath: m?.[1] ?? '/', ...(caller.userId !== undefined && { userId: caller.userId }) };
    return this.seal(caller.accountId, subject, duration);
  }

  private async resolveRole(arn: string, who: string, action: string): Promise<RoleRecord> {
    const m = ROLE_ARN_RE.exec(arn);
    if (!m) throw new IdentityError(IamCodes.Validation, `${arn.slice(0, 300)} is invalid`);
    const role = await this.roles.roleRecord(m[1]!, m[3]!);
    // A path in the ARN must be the role's. An ARN names its role exactly: role/ADMIN is not the
    // role Admin (names are found in any case, but a policy's Deny of role/Admin must hold).
    if (!role || role.name !== m[3] || (m[2] !== '/' && m[2] !== role.path)) throw denied(who, action, arn);
    return role;
  }

  /**
   * Managed session policies must exist in the role's account (or be AWS's): STS's PolicyArns
   * ("The policies must exist in the same account as the role"). Refused rather than dropped: a
   * session policy left out would leave the session the whole role.
   */
  private async checkPolicyArns(role: RoleRecord, arns: readonly string[] | undefined): Promise<void> {
    if (arns === undefined) return;
    if (arns.length > MAX_POLICY_ARNS) throw new IdentityError(IamCodes.Validation, `PolicyArns takes at most ${MAX_POLICY_ARNS} policies.`);
    for (const arn of arns) {
      if (!(await this.roles.hasManagedPolicy(role.accountId, arn))) {
        throw new IdentityError(IamCodes.MalformedPolicyDocument, `The managed session policy ${arn.slice(0, 2048)} does not exist in the role's account.`);
      }
    }
  }

  private trust(caller: Caller, identity: IdentityPolicies, role: RoleRecord, action: string, context: Record<string, string | string[] | undefined>): void {
    let trust: Policy;
    try {
      trust = parseTrustPolicy(role.trustPolicy, true);
    } catch {
      trust = { statements: [] };
    }
    if (role.trustPrincipalIds !== undefined) trust.principalIds = role.trustPrincipalIds;
    const resource = roleArn(role.accountId, role.name, role.path);
    const decision = evaluate({
      caller: { ...caller, ...principalIdOf(caller) },
      identityPolicies: identity.policies,
      ...(identity.boundary && { permissionsBoundary: identity.boundary }),
      resourcePolicies: [trust],
      action,
      resource,
      resourceAccountId: role.accountId,
      context,
      resourcePolicyRequired: true,
    });
    if (!decision.allowed) {
      // A web identity hears STS's one refusal, whichever of its actions the trust did not allow.
      if (caller.kind === 'federated') throw denied(caller.arn, WEB_IDENTITY_ACTION, resource);
      throw denied(caller.arn, action, resource);
    }
  }

  private mint(role: RoleRecord, sessionName: string, duration: number, grant: SessionGrant): AssumedRole {
    const { tags, policy, policyArns } = grant;
    const subject: SessionClaims['subject'] = { kind: 'role', roleName: role.name, rolePath: role.path, roleId: role.roleId, sessionName };
    const tagMap = Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
    // aws:PrincipalTag of a role session is the role's tags, a session tag overriding one of the
    // same key (IAM). A role's tags are set when it is created only, so taking them now is the same
    // as taking them at each request.
    const sessionKeys = new Set(tags.map((t) => t.Key.toLowerCase()));
    const principalTags = { ...Object.fromEntries(role.tags.filter((t) => !sessionKeys.has(t.Key.toLowerCase())).map((t) => [t.Key, t.Value])), ...tagMap };
    const arns = policyArns !== undefined && policyArns.length > 0 ? [...new Set(policyArns)] : undefined;
    const credentials = this.seal(role.accountId, subject, duration, {
      ...(Object.keys(principalTags).length > 0 && { tags: principalTags }),
      ...(policy !== undefined && { policy }),
      ...(arns !== undefined && { policyArns: arns }),
      ...(grant.transitiveTags !== undefined && { transitiveTags: grant.transitiveTags }),
      ...(grant.sourceIdentity !== undefined && { sourceIdentity: grant.sourceIdentity }),
    });
    const packed = (policy?.length ?? 0) + JSON.stringify(tagMap).length - 2 + (arns ?? []).reduce((n, a) => n + a.length, 0);
    return {
      credentials,
      assumedRoleId: `${role.roleId}:${sessionName}`,
      arn: assumedRoleArn(role.accountId, role.name, sessionName),
      packedPolicySize: Math.ceil((packed / MAX_SESSION_POLICY_CHARS) * 100),
      ...(grant.sourceIdentity !== undefined && { sourceIdentity: grant.sourceIdentity }),
    };
  }

  private seal(
    accountId: string,
    subject: SessionClaims['subject'],
    duration: number,
    facts: Pick<SessionClaims, 'tags' | 'policy' | 'policyArns' | 'transitiveTags' | 'sourceIdentity'> = {},
  ): TemporaryCredentials {
    const issuedAt = new Date(Math.floor(this.clock.now().getTime() / 1000) * 1000);
    const expiration = new Date(issuedAt.getTime() + duration * 1000);
    const claims: SessionClaims = {
      accessKeyId: generateTemporaryAccessKeyId(),
      secretAccessKey: generateSecretAccessKey(),
      accountId,
      expiresAt: expiration,
      issuedAt,
      subject,
      ...facts,
      ...(this.region !== undefined && { region: this.region }),
    };
    const sessionToken = sealSessionToken(claims, this.serverKey);
    if (sessionToken.length > MAX_SESSION_TOKEN_CHARS) {
      throw new IdentityError(IamCodes.PackedPolicyTooLarge, 'Packed size of the session policy and session tags exceeds the limit.');
    }
    return { accessKeyId: claims.accessKeyId, secretAccessKey: claims.secretAccessKey, sessionToken, expiration };
  }
}

/**
 * STS's rule on a duration beyond its model, which the door has checked (http/iam/input.ts:
 * DurationSeconds an integer from 900, RoleSessionName 2 to 64 of `[\w+=,.@-]`).
 */
function checkDuration(seconds: number, max: number, chained: boolean): number {
  if (seconds > max) {
    throw new IdentityError(
      IamCodes.Validation,
      chained
        ? 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'
        : `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`,
    );
  }
  return seconds;
}

/** An inline session policy: an identity policy of at most 2048 characters. */
export function parseSessionPolicy(document: string): Policy {
  try {
    return parsePolicy(document, { kind: 'identity', maxLength: MAX_SESSION_POLICY_CHARS });
  } catch (e) {
    if (e instanceof PolicyError) throw new IdentityError(IamCodes.MalformedPolicyDocument, e.message);
    throw e;
  }
}

/**
 * What a role session passes to the session it assumes (role chaining), with the request's own:
 * its transitive session tags, which the request may not set again ("If you pass a session tag
 * with the same key as an inherited tag, the operation fails", STS's AssumeRole), and its source
 * identity, which "cannot be changed" once set. TransitiveTagKeys must name tags the request passes.
 */
function chainedFacts(
  session: SessionFacts | undefined,
  tags: ReadonlyArray<{ Key: string; Value: string }>,
  req: Pick<AssumeRoleRequest, 'transitiveTagKeys' | 'sourceIdentity'>,
): { inherited: Record<string, string>; transitiveTags: Record<string, string>; sourceIdentity?: string } {
  const inherited = session?.transitiveTags ?? {};
  const inheritedKeys = new Set(Object.keys(inherited).map((k) => k.toLowerCase()));
  const clash = tags.find((t) => inheritedKeys.has(t.Key.toLowerCase()));
  if (clash) throw new IdentityError(IamCodes.InvalidParameterValue, `The session tag ${clash.Key} has the key of a transitive tag this session inherited.`);
  const transitiveTags = { ...inherited };
  for (const key of req.transitiveTagKeys ?? []) {
    const tag = tags.find((t) => t.Key.toLowerCase() === key.toLowerCase());
    if (!tag) throw new IdentityError(IamCodes.InvalidParameterValue, `The transitive tag key ${key.slice(0, 128)} is not among the session tags passed.`);
    transitiveTags[tag.Key] = tag.Value;
  }
  const carried = session?.sourceIdentity;
  if (carried !== undefined && req.sourceIdentity !== undefined && req.sourceIdentity !== carried) {
    throw new IdentityError(IamCodes.AccessDenied, 'The source identity of a role session cannot be changed in a role chain.');
  }
  const sourceIdentity = carried ?? req.sourceIdentity;
  return { inherited, transitiveTags, ...(sourceIdentity !== undefined && { sourceIdentity }) };
}

/** The unique id a trust policy's bound principal ARN is held to: an IAM user's, or a role session's role's. */
function principalIdOf(caller: Caller & Partial<Pick<Principal, 'userId' | 'session'>>): Pick<Caller, 'principalId'> {
  const id = caller.kind === 'user' ? caller.userId : caller.kind === 'role' ? caller.session?.role?.roleId : undefined;
  return id === undefined ? {} : { principalId: id };
}
