/**
 * Dispatches an IAM or STS Query request, after verifying its signature, to its action. IAM
 * actions are authorized as `iam:<Action>` on the role, user or provider they name (the account
 * root may do anything in its account). AssumeRoleWithWebIdentity arrives unsigned, as the AWS
 * CLI sends it: a request without any signature is routed by its Action, for that action only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../../auth/errors.js';
import { deniedMessage } from '../../iam/denial.js';
import { IamCodes } from '../../core/errors.js';
import { parseAuthorization, splitUrl } from '../../auth/sigv4.js';
import { IdentityError, type IdentityAdmin } from '../../auth/identity-admin.js';
import { noteDenied, noteError, noteOperation } from '../request-facts.js';
import type { Authenticator } from '../authn.js';
import { readBody } from '../request.js';
import { anonymousPrincipal, type Principal } from '../../auth/principal.js';
import type { SecurityTokenService } from '../../auth/sts.js';
import { identityPoliciesOf } from '../identity-policies.js';
import { iamActions, stsActions, type QueryAction, type QueryCall } from './actions.js';
import { IAM_INPUT, STS_INPUT, checkQueryInput } from './input.js';
import { iamResourceOf, roleActions } from './role-actions.js';
import { loginProfileActions } from './login-profile-actions.js';
import { boundaryActions } from './boundary-actions.js';
import { iamConditionKeys } from '../condition-keys/iam.js';
import { globalConditionKeys, requestOrigin, type ConditionContext, type RequestOrigin } from '../condition-keys/global.js';
import type { Clock } from '../../core/clock.js';
import type { KmsAuthzTarget } from '../kms/authz.js';
import { policyActions } from './policy-actions.js';
import { customerPolicyActions } from './customer-policy-actions.js';
import { groupActions } from './group-actions.js';
import { tagActions } from './tag-actions.js';
import { IAM_NAMESPACE, QueryError, STS_NAMESPACE, STS_VERSION, parseForm, sendQueryError, sendQueryResult, type XmlValue } from './query.js';

export interface QueryRouterOptions {
  authenticator: Authenticator;
  /** The region this deployment serves: with us-east-1, the regions a signature may be scoped to. */
  region?: string;
  identities: IdentityAdmin;
  log: Logger;
  checkPolicy: QueryCall['checkPolicy'];
  /** Decides `iam:<Action>` from identity policies; without one only the account root manages identities. */
  authorizer?: {
    check(principal: Principal, target: KmsAuthzTarget): Promise<void>;
  };
  sts?: SecurityTokenService;
  /** Verifies web identity tokens for AssumeRoleWithWebIdentity; unset, the action is refused. */
  webIdentity?: QueryCall['webIdentity'];
  /** The console's sign-in throttle, which ChangePassword's wrong old passwords count in too. */
  passwordGuesses?: QueryCall['passwordGuesses'];
  /** For the condition keys aws:CurrentTime, aws:EpochTime and aws:TokenIssueTime's comparisons. */
  clock: Clock;
}

/** STS actions that are called without credentials: the token in the request is the credential. */
const UNSIGNED_ACTIONS = new Set(['AssumeRoleWithWebIdentity']);
/** The IAM actions Berth serves (the model-constraint test reads them). */
export const IAM_ACTIONS: Record<string, QueryAction> = {
  ...iamActions,
  ...roleActions,
  ...loginProfileActions,
  ...boundaryActions,
  ...policyActions,
  ...customerPolicyActions,
  ...groupActions,
  ...tagActions,
};

export async function routeQuery(opts: QueryRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const scoped = signedService(req);
  // Known before the signature is verified, so that a refusal is in its service's own words too.
  let namespace = scoped === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
  try {
    const body = await readBody(req, 1024 * 1024).catch(() => {
      throw new QueryError(IamCodes.Validation, 'request body is too large');
    });
    const form = parseForm(body);
    if (scoped === undefined && isStsCall(form)) namespace = STS_NAMESPACE;
    rejectUnservedService(scoped, form);
    const name = form.get('Action') ?? '';
    const unsigned = req.headers.authorization === undefined && !(req.url ?? '').includes('X-Amz-Signature=') && UNSIGNED_ACTIONS.has(name);
    const {
      principal,
      service,
      region: signedRegion,
    } = unsigned
      ? { principal: anonymousPrincipal, service: 'sts', region: undefined }
      : await opts.authenticator.signed(req, body, ['iam', 'sts'], signingRegions(opts.region));
    namespace = service === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
    // An unsigned call is addressed to STS's global endpoint, in us-east-1.
    const region = unsigned ? IAM_REGION : (signedRegion ?? IAM_REGION);
    const result = await runQueryAction(opts, req, principal, service === 'sts' ? 'sts' : 'iam', name, form, region);
    sendQueryResult(res, name, namespace, result);
  } catch (err) {
    const wire = queryErrorOf(err, opts.log);
    noteError(req, wire.code, wire.message);
    sendQueryError(res, namespace, wire);
  }
}

/**
 * Runs an IAM or STS action as `principal`, authorized (IAM's) as `iam:<Action>` and noted for
 * the audit trail: the one path of the signed Query API and of the web console's IAM calls.
 */
export async function runQueryAction(
  opts: Omit<QueryRouterOptions, 'authenticator'>,
  req: IncomingMessage,
  principal: Principal,
  service: 'iam' | 'sts',
  name: string,
  form: URLSearchParams,
  /** The region the request was signed for: STS's aws:RequestedRegion (IAM's is always us-east-1). */
  signingRegion: string = IAM_REGION,
): Promise<XmlValue> {
  const actions = service === 'sts' ? stsActions : IAM_ACTIONS;
  noteOperation(req, service, name.slice(0, 100), { params: Object.fromEntries(form) });
  const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (!action) throw new QueryError(IamCodes.InvalidAction, `Could not find operation ${name.slice(0, 100)} for version ${form.get('Version') ?? ''}`);
  // The models' constraints first: an authorization decision never sees a malformed name.
  checkQueryInput((service === 'sts' ? STS_INPUT : IAM_INPUT)[name], form);
  const sourceIp = req.socket.remoteAddress;
  const origin = requestOrigin(req);
  if (service === 'iam') await authorizeIam(opts, req, principal, name, form);
  return action({
    form,
    accountId: principal.accountId,
    callerArn: principal.arn,
    ...(principal.userName !== undefined && { callerUserName: principal.userName }),
    identities: opts.identities,
    checkPolicy: opts.checkPolicy,
    principal,
    ...(opts.sts && { sts: { service: opts.sts, callerPolicies: (p: Principal) => identityPoliciesOf(opts.identities, p) } }),
    ...(opts.webIdentity && { webIdentity: opts.webIdentity }),
    ...(opts.passwordGuesses && { passwordGuesses: opts.passwordGuesses }),
    ...(sourceIp !== undefined && { sourceIp }),
    globalKeys: (resourceAccountId, userId) =>
      globalConditionKeys({
        principal,
        ...(userId !== undefined && { userId }),
        origin,
        region: service === 'sts' ? signingRegion : IAM_REGION,
        resourceAccountId,
        now: opts.clock.now(),
      }),
  });
}

/** Any error of an action in Query terms (an unexpected one is logged and told as ServiceFailure). */
export function queryErrorOf(err: unknown, log: Logger): QueryError {
  if (err instanceof QueryError) return err;
  if (err instanceof IdentityError) return new QueryError(err.code, err.message);
  if (isAuthError(err)) return new QueryError(err.query, err.message);
  log.error({ err }, 'query request failed');
  return new QueryError(IamCodes.ServiceFailure, 'An internal error occurred');
}

/**
 * `iam:<Action>` on what the action names. GetSessionToken's credentials may not manage
 * identities (IAM requires MFA for that, which Berth does not have).
 */
async function authorizeIam(
  opts: Omit<QueryRouterOptions, 'authenticator'>,
  req: IncomingMessage,
  principal: Principal,
  name: string,
  form: URLSearchParams,
): Promise<void> {
  const action = `iam:${name}`;
  const resource = await iamResourceOf(opts.identities, principal.accountId, form);
  const context = await iamConditionKeys(opts.identities, principal.accountId, name, form);
  const refusal = await iamRefusal(opts, principal, name, resource, requestOrigin(req), context);
  if (refusal !== undefined) {
    noteDenied(req, action, resource);
    throw new QueryError(IamCodes.AccessDenied, refusal);
  }
}

/** Whether `principal` may do IAM's `name` on `resource` (an ARN or "*"): the rule below, also asked by the console's buttons. */
export async function iamAllowed(
  opts: Pick<QueryRouterOptions, 'authorizer'>,
  principal: Principal,
  name: string,
  resource: string,
  origin: RequestOrigin,
  /** The action's own condition keys (condition-keys/iam.ts). */
  context: ConditionContext = {},
): Promise<boolean> {
  return (await iamRefusal(opts, principal, name, resource, origin, context)) === undefined;
}

/** Why `principal` may not do IAM's `name` on `resource`, in AWS's words (iam/denial.ts); undefined when it may. */
async function iamRefusal(
  opts: Pick<QueryRouterOptions, 'authorizer'>,
  principal: Principal,
  name: string,
  resource: string,
  origin: RequestOrigin,
  context: ConditionContext,
): Promise<string | undefined> {
  if (principal.kind === 'root' && principal.session === undefined) return undefined;
  // Acts only on the caller and takes its current password: any IAM user may change its own, as
  // under AWS's default password policy (the action refuses callers that are not IAM users).
  if (name === 'ChangePassword') return undefined;
  const action = `iam:${name}`;
  if (!opts.authorizer || (principal.session !== undefined && principal.session.role === undefined)) {
    return deniedMessage(principal.arn, action, resource, { explicitDeny: false, policyType: 'identity-based policy' });
  }
  // IAM is a global service: its one endpoint is in us-east-1, the region IAM calls are made to.
  return opts.authorizer.check(principal, { action, resource, origin, region: IAM_REGION, context }).then(
    () => undefined,
    (e: unknown) => {
      // The authorizer is the KMS door's (any action on any ARN, identity policies alone): its refusal, worded by iam/denial.ts, is a no.
      if (e instanceof Error && /AccessDenied/.test(String((e as { type?: unknown }).type ?? ''))) return e.message;
      throw e;
    },
  );
}

/**
 * IAM's endpoint and STS's global one take signatures scoped to us-east-1, STS's regional
 * endpoints their own region; anything else is refused in AWS's words ("Credential should be
 * scoped to a valid region"). With a custom endpoint the SDKs and the CLI sign for the region
 * they are configured with, so the deployment's region is taken too.
 */
function signingRegions(region: string | undefined): string[] {
  return region === undefined || region === 'us-east-1' ? ['us-east-1'] : ['us-east-1', region];
}

const QUERY_SERVICES = new Set(['iam', 'sts']);
/** aws:RequestedRegion of an IAM call (IAM's global condition keys page). */
const IAM_REGION = 'us-east-1';

/** The service a request's signature is scoped to; undefined when it has no readable one (unsigned, malformed). */
function signedService(req: IncomingMessage): string | undefined {
  try {
    return parseAuthorization({ headers: req.headers, rawQuery: splitUrl(req.url ?? '/').rawQuery }).service;
  } catch {
    return undefined;
  }
}

/** An unsigned call meant for STS: one of its actions, or its API version (AWS tells them apart by endpoint; Berth has one). */
function isStsCall(form: URLSearchParams): boolean {
  return Object.hasOwn(stsActions, form.get('Action') ?? '') || form.get('Version') === STS_VERSION;
}

/**
 * A Query request signed for a service Berth does not serve (`aws ec2 ...`): answered as AWS
 * answers an action it does not know, from the signature's scope and before verifying it, as
 * no service list could match and a signature error would send the caller looking for a bad key.
 * An unreadable Authorization is left to the verifier to name.
 */
function rejectUnservedService(service: string | undefined, form: URLSearchParams): void {
  if (service !== undefined && !QUERY_SERVICES.has(service)) {
    throw new QueryError(IamCodes.InvalidAction, `The action ${(form.get('Action') ?? '').slice(0, 100)} is not valid for this web service.`);
  }
}
