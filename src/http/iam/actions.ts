/**
 * The IAM and STS Query actions Berth serves, so `aws iam` and `aws sts` manage Berth's users,
 * access keys and policies unchanged. Each action works inside the caller's account.
 */
import { IamCodes } from '../../core/errors.js';
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import type { AccessKeyRecord, UserRecord } from '../../metadata/identities.js';
import type { Principal } from '../../auth/principal.js';
import type { AssumedRole, SecurityTokenService, TemporaryCredentials } from '../../auth/sts.js';
import type { WebIdentityRequest } from '../../auth/web-identity.js';
import type { IdentityPolicies } from '../identity-policies.js';
import { boundaryXml } from './boundary-actions.js';
import { attachedPage, inlinePage, pageOf } from './paging.js';
import { members, tagMembers } from './role-actions.js';
import { QueryError, required, type XmlValue } from './query.js';
import { integerParam } from '../model/query.js';
import type { ConditionContext } from '../condition-keys/global.js';
import { assumeRoleKeys } from '../condition-keys/sts.js';

/** The account of an ARN (its fifth field); '' for a malformed one, which STS then refuses. */
const accountOfArn = (arn: string): string => arn.split(':')[4] ?? '';

/** The console sign-in throttle, as ChangePassword uses it (auth/sign-in-throttle.ts). */
export interface PasswordGuesses {
  identityRetryAfter(who: string): number | undefined;
  identityFailed(who: string): void;
}

export interface QueryCall {
  form: URLSearchParams;
  accountId: string;
  /** The caller's ARN, for GetCallerIdentity and GetUser without a name. */
  callerArn: string;
  callerUserName?: string;
  identities: IdentityAdmin;
  /** Validates an identity policy document; throws QueryError MalformedPolicyDocument. */
  checkPolicy(document: string): void;
  /** The caller (anonymous for an unsigned AssumeRoleWithWebIdentity). */
  principal: Principal;
  sts?: StsDoor;
  webIdentity?: WebIdentityDoor;
  sourceIp?: string;
  /** Wrong passwords counted with the console's failed sign-ins (auth/sign-in-throttle.ts). */
  passwordGuesses?: PasswordGuesses;
  /** The global condition keys of this request (condition-keys/global.ts), acting on `resourceAccountId`'s resource. */
  globalKeys(resourceAccountId: string, userId?: string): ConditionContext;
}

/** Verifies a web identity token and assumes the role it asks for (auth/web-identity.ts). */
export interface WebIdentityDoor {
  assumeRole(req: WebIdentityRequest & { context: ConditionContext }): Promise<{
    assumed: AssumedRole;
    subject: string;
    audience: string;
    provider: string;
  }>;
}

/** What the STS actions need beyond identities: the service, the caller's policies and web identities. */
export interface StsDoor {
  service: SecurityTokenService;
  /** The caller's identity policies and permissions boundary, as the authorizers read them. */
  callerPolicies(principal: Principal): Promise<IdentityPolicies>;
}

export type QueryAction = (call: QueryCall) => Promise<XmlValue>;

/** A user as IAM answers it; its permissions boundary and tags only where GetUser and CreateUser give them (not ListUsers). */
export function userXml(u: UserRecord, full = false): XmlValue {
  return {
    Path: u.path,
    UserName: u.name,
    UserId: u.userId,
    Arn: `arn:aws:iam::${u.accountId}:user${u.path}${u.name}`,
    CreateDate: u.createdAt,
    ...(full && boundaryXml(u.permissionsBoundary)),
    ...(full && u.tags.length > 0 && { Tags: u.tags }),
  };
}

function keyXml(k: AccessKeyRecord): XmlValue {
  return { UserName: k.userName, AccessKeyId: k.id, Status: k.status, CreateDate: k.createdAt };
}

/** The user an action names, defaulting to the caller (IAM's rule for key and GetUser actions). */
function userOf(call: QueryCall): string | undefined {
  return call.form.get('UserName') ?? call.callerUserName;
}

export const iamActions: Record<string, QueryAction> = {
  async CreateUser(call) {
    const boundary = call.form.get('PermissionsBoundary') ?? undefined;
    const name = required(call.form, 'UserName');
    const u = await call.identities.createUser(call.accountId, name, call.form.get('Path') ?? '/', boundary, tagMembers(call.form));
    return { User: userXml(u, true) };
  },
  async GetUser(call) {
    const name = userOf(call);
    if (name === undefined) {
      return { User: { UserId: call.accountId, Arn: call.callerArn, CreateDate: new Date(0) } };
    }
    return { User: userXml(await call.identities.user(call.accountId, name), true) };
  },
  async ListUsers(call) {
    const prefix = call.form.get('PathPrefix') ?? '/';
    const users = (await call.identities.listUsers(call.accountId)).filter((u) => u.path.startsWith(prefix));
    return pageOf(call.form, 'Users', users, (u) => userXml(u));
  },
  async DeleteUser(call) {
    await call.identities.deleteUser(call.accountId, required(call.form, 'UserName'));
    return undefined;
  },
  async CreateAccessKey(call) {
    const { record, secretAccessKey } = await call.identities.createAccessKey(call.accountId, userOf(call));
    return { AccessKey: { ...(keyXml(record) as object), SecretAccessKey: secretAccessKey } };
  },
  async ListAccessKeys(call) {
    const keys = await call.identities.listAccessKeys(call.accountId, userOf(call));
    return pageOf(call.form, 'AccessKeyMetadata', keys, keyXml);
  },
  async DeleteAccessKey(call) {
    await call.identities.deleteAccessKey(call.accountId, userOf(call), required(call.form, 'AccessKeyId'));
    return undefined;
  },
  async UpdateAccessKey(call) {
    const status = required(call.form, 'Status');
    if (status !== 'Active' && status !== 'Inactive') throw new QueryError(IamCodes.Validation, 'Status must be Active or Inactive');
    await call.identities.setAccessKeyStatus(call.accountId, userOf(call), required(call.form, 'AccessKeyId'), status);
    return undefined;
  },
  async PutUserPolicy(call) {
    const document = required(call.form, 'PolicyDocument');
    call.checkPolicy(document);
    await call.identities.putUserPolicy(call.accountId, required(call.form, 'UserName'), required(call.form, 'PolicyName'), document);
    return undefined;
  },
  async GetUserPolicy(call) {
    const userName = required(call.form, 'UserName');
    const name = required(call.form, 'PolicyName');
    const p = (await call.identities.userPolicies(call.accountId, userName)).find((x) => x.kind === 'inline' && x.name === name);
    if (!p) throw new QueryError(IamCodes.NoSuchEntity, `The user policy with name ${name} cannot be found.`);
    // IAM returns the document URL-encoded; the CLI decodes it.
    const asMade = await call.identities.nameAsMade(call.accountId, 'user', userName);
    return { UserName: asMade, PolicyName: name, PolicyDocument: encodeURIComponent(p.document ?? '') };
  },
  async ListUserPolicies(call) {
    const policies = await call.identities.userPolicies(call.accountId, required(call.form, 'UserName'));
    return inlinePage(call.form, policies);
  },
  async DeleteUserPolicy(call) {
    await call.identities.removeUserPolicy(call.accountId, required(call.form, 'UserName'), 'inline', required(call.form, 'PolicyName'));
    return undefined;
  },
  async AttachUserPolicy(call) {
    const arn = required(call.form, 'PolicyArn');
    await call.identities.requireAttachable(call.accountId, arn);
    await call.identities.attachUserPolicy(call.accountId, required(call.form, 'UserName'), arn);
    return undefined;
  },
  async DetachUserPolicy(call) {
    await call.identities.removeUserPolicy(call.accountId, required(call.form, 'UserName'), 'managed', required(call.form, 'PolicyArn'));
    return undefined;
  },
  async ListAttachedUserPolicies(call) {
    const policies = await call.identities.userPolicies(call.accountId, required(call.form, 'UserName'));
    return attachedPage(call.form, policies);
  },
};

function credentialsXml(c: TemporaryCredentials): XmlValue {
  return { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration };
}

function stsOf(call: QueryCall): StsDoor {
  if (!call.sts) throw new QueryError(IamCodes.ServiceFailure, 'STS is not available on this server');
  return call.sts;
}

/** `PolicyArns.member.N.arn`: the managed session policies; undefined when none is given. */
function policyArnsOf(form: URLSearchParams): string[] | undefined {
  const out: string[] = [];
  for (let i = 1; i <= 1000; i++) {
    const arn = form.get(`PolicyArns.member.${i}.arn`);
    if (arn === null) break;
    out.push(arn);
  }
  return out.length > 0 ? out : undefined;
}

/** DurationSeconds, an integer by the time an action runs (input.ts refused any other). */
const duration = (form: URLSearchParams): number | undefined => integerParam(form, 'DurationSeconds');

export const stsActions: Record<string, QueryAction> = {
  async GetCallerIdentity(call) {
    const { principal } = call;
    const role = principal.session?.role;
    // STS's UserId: `<role id>:<session name>` for an assumed role, a user's unique id (AIDA…),
    // the account id for the root.
    if (role) return { UserId: `${role.roleId}:${role.sessionName}`, Account: call.accountId, Arn: call.callerArn };
    const name = principal.kind === 'user' ? principal.userName : undefined;
    const user = name === undefined ? undefined : await call.identities.userRecord(call.accountId, name);
    // The user the credentials name exactly (a lookup finds a name in any case).
    const userId = user !== undefined && user.name === name ? user.userId : call.accountId;
    return { UserId: userId, Account: call.accountId, Arn: call.callerArn };
  },
  async AssumeRole(call) {
    const sts = stsOf(call);
    const f = call.form;
    const d = duration(f);
    const policy = f.get('Policy');
    const policyArns = policyArnsOf(f);
    const transitiveTagKeys = members(f, 'TransitiveTagKeys');
    const sourceIdentity = f.get('SourceIdentity');
    const roleArn = required(f, 'RoleArn');
    const callerPolicies = await sts.callerPolicies(call.principal);
    const assumed = await sts.service.assumeRole(call.principal, callerPolicies, {
      roleArn,
      sessionName: required(f, 'RoleSessionName'),
      ...(d !== undefined && { durationSeconds: d }),
      ...(policy !== null && { policy }),
      ...(policyArns !== undefined && { policyArns }),
      tags: tagMembers(f),
      ...(transitiveTagKeys.length > 0 && { transitiveTagKeys }),
      ...(sourceIdentity !== null && { sourceIdentity }),
      context: { ...call.globalKeys(accountOfArn(roleArn), callerPolicies.userId), ...assumeRoleKeys(f) },
    });
    return {
      Credentials: credentialsXml(assumed.credentials),
      AssumedRoleUser: { AssumedRoleId: assumed.assumedRoleId, Arn: assumed.arn },
      PackedPolicySize: assumed.packedPolicySize,
      ...(assumed.sourceIdentity !== undefined && { SourceIdentity: assumed.sourceIdentity }),
    };
  },
  async AssumeRoleWithWebIdentity(call) {
    if (!call.webIdentity) throw new QueryError(IamCodes.ServiceFailure, 'web identities are not available on this server');
    const f = call.form;
    const d = duration(f);
    const policy = f.get('Policy');
    const policyArns = policyArnsOf(f);
    const roleArn = required(f, 'RoleArn');
    const r = await call.webIdentity.assumeRole({
      token: required(f, 'WebIdentityToken'),
      roleArn,
      sessionName: required(f, 'RoleSessionName'),
      ...(d !== undefined && { durationSeconds: d }),
      ...(policy !== null && { policy }),
      ...(policyArns !== undefined && { policyArns }),
      context: call.globalKeys(accountOfArn(roleArn)),
    });
    return {
      Credentials: credentialsXml(r.assumed.credentials),
      SubjectFromWebIdentityToken: r.subject,
      AssumedRoleUser: { AssumedRoleId: r.assumed.assumedRoleId, Arn: r.assumed.arn },
      PackedPolicySize: r.assumed.packedPolicySize,
      ...(r.assumed.sourceIdentity !== undefined && { SourceIdentity: r.assumed.sourceIdentity }),
      Provider: r.provider,
      Audience: r.audience,
    };
  },
  async GetSessionToken(call) {
    return { Credentials: credentialsXml(stsOf(call).service.getSessionToken(call.principal, duration(call.form))) };
  },
};
