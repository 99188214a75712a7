/**
 * The global condition keys AWS puts in the request context of every signed request, whichever
 * service it is for (IAM's "AWS global condition context keys", each key's "Availability"), built
 * once here for every door's authorizer. Why each one matters: a key missing from the context
 * makes a negated operator (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, ...) and a
 * `ForAllValues:` set operator hold, so an Allow guarded by one allows what it was written to
 * refuse, and a Deny guarded by a positive operator (`Bool aws:SecureTransport false`,
 * `DateLessThan aws:TokenIssueTime`) never denies.
 *
 * The principal's own keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
 * aws:username, aws:PrincipalTag/*) are set by the evaluator from the caller (src/iam). Keys AWS
 * sets only in circumstances Berth never has (a VPC endpoint, an AWS Organization, a call made by
 * or through an AWS service, MFA) stay unset, as AWS leaves them unset outside those circumstances.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../auth/principal.js';
import { cameOverTls } from '../request.js';

/** A request context: condition keys (case-insensitive) and their values; a list is a multivalued key. */
export type ConditionContext = Record<string, string | string[] | undefined>;

/** What the request itself says about where it came from. */
export interface RequestOrigin {
  sourceIp?: string;
  /** Unset means plain HTTP, so a policy denying insecure transport fails closed. */
  secureTransport: boolean;
  userAgent?: string;
  referer?: string;
}

export function requestOrigin(req: IncomingMessage): RequestOrigin {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const userAgent = header('user-agent');
  const referer = header('referer');
  const sourceIp = req.socket.remoteAddress;
  return {
    secureTransport: cameOverTls(req),
    ...(sourceIp !== undefined && { sourceIp }),
    ...(userAgent !== undefined && { userAgent }),
    ...(referer !== undefined && { referer }),
  };
}

export interface GlobalKeysInput {
  principal: Principal;
  /** An IAM user's unique id (AIDA...), for aws:userid; other principals' are known from the principal. */
  userId?: string;
  origin: RequestOrigin;
  /** aws:RequestedRegion: the region the request is for (us-east-1 for IAM, a global service). */
  region: string;
  /** aws:ResourceAccount: the account that owns the resource acted on. */
  resourceAccountId: string;
  now: Date;
}

export function globalConditionKeys(input: GlobalKeysInput): ConditionContext {
  const { principal, origin, now } = input;
  const signed = principal.kind !== 'anonymous';
  const session = principal.session;
  return {
    'aws:SourceIp': origin.sourceIp,
    'aws:SecureTransport': String(origin.secureTransport),
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:RequestedRegion': input.region,
    'aws:UserAgent': origin.userAgent,
    'aws:Referer': origin.referer,
    'aws:ResourceAccount': input.resourceAccountId === '' ? undefined : input.resourceAccountId,
    // Present on every signed request: no request reaches Berth from an AWS service principal,
    // nor through one (Berth's own background work is never authorized as a caller's request).
    'aws:PrincipalIsAWSService': signed ? 'false' : undefined,
    'aws:ViaAWSService': signed ? 'false' : undefined,
    'aws:userid': signed ? userIdOf(principal, input.userId) : undefined,
    // Temporary credentials carry both; Berth has no MFA, so a session's is never present (IAM
    // leaves the key out for long-term access keys, as here).
    'aws:TokenIssueTime': session?.issuedAt.toISOString(),
    'aws:MultiFactorAuthPresent': session !== undefined ? 'false' : undefined,
    // Set once in a role chain and kept by every session chained from it (IAM's "Monitor and
    // control actions taken with assumed roles").
    'aws:SourceIdentity': session?.sourceIdentity,
  };
}

/** IAM's table of aws:userid: the account id for the root, `<role id>:<session name>` for a role session, the unique id for a user. */
function userIdOf(principal: Principal, userId: string | undefined): string | undefined {
  const role = principal.session?.role;
  if (role !== undefined) return `${role.roleId}:${role.sessionName}`;
  if (principal.kind === 'root') return principal.accountId;
  return principal.kind === 'user' ? userId : undefined;
}
