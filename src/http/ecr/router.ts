/** Dispatches an ECR JSON API request to its action by `X-Amz-Target`. */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Codes, EcrCodes } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import { contentLength, readBody } from '../request.js';
import { requestOrigin } from '../condition-keys/global.js';
import { jsonTags } from '../condition-keys/tags.js';
import { GetAuthorizationToken } from './actions/auth.js';
import { BatchDeleteImage, BatchGetImage, DescribeImages, ListImageReferrers, ListImages, PutImage } from './actions/images.js';
import { UpdateImageStorageClass } from './actions/storage-class.js';
import { BatchCheckLayerAvailability, CompleteLayerUpload, GetDownloadUrlForLayer, InitiateLayerUpload, UploadLayerPart } from './actions/layers.js';
import { DescribeImageScanFindings, StartImageScan } from './actions/scans.js';
import { DescribeImageReplicationStatus } from './actions/replication.js';
import { DeleteSigningConfiguration, DescribeImageSigningStatus, GetSigningConfiguration, PutSigningConfiguration } from './actions/signing.js';
import { DeleteLifecyclePolicy, GetLifecyclePolicy, GetLifecyclePolicyPreview, PutLifecyclePolicy, StartLifecyclePolicyPreview } from './actions/lifecycle.js';
import {
  DeleteRegistryPolicy,
  DeleteRepositoryPolicy,
  GetAccountSetting,
  GetRegistryPolicy,
  GetRepositoryPolicy,
  PutAccountSetting,
  PutRegistryPolicy,
  SetRepositoryPolicy,
} from './actions/policies.js';
import {
  BatchGetRepositoryScanningConfiguration,
  DescribeRegistry,
  GetRegistryScanningConfiguration,
  PutRegistryScanningConfiguration,
  PutReplicationConfiguration,
} from './actions/registry.js';
import { CreateRepository, DeleteRepository, DescribeRepositories } from './actions/repositories.js';
import {
  CreateRepositoryCreationTemplate,
  DeleteRepositoryCreationTemplate,
  DescribeRepositoryCreationTemplates,
  templateImpliedActions,
  templatePassedRole,
  UpdateRepositoryCreationTemplate,
} from './actions/creation-templates.js';
import {
  CreatePullThroughCacheRule,
  DeletePullThroughCacheRule,
  DescribePullThroughCacheRules,
  UpdatePullThroughCacheRule,
  ValidatePullThroughCacheRule,
} from './actions/pull-through.js';
import type { PullThroughRules } from '../../pullthrough/rules.js';
import type { PullThroughCache } from '../../pullthrough/cache.js';
import { importAccess } from '../pull-through-access.js';
import { requirePassRole } from '../pass-role.js';
import { secretUse } from '../secret-use.js';
import { callerKeyUse, type KeyUseJudge } from '../kms-key-use.js';
import type { SecretsRouterOptions } from '../secrets/router.js';
import {
  DescribeReplicationBackfillResults,
  ListReplicationBackfills,
  StartReplicationBackfill,
  StopReplicationBackfill,
} from './actions/replication-backfills.js';
import { DeregisterPullTimeUpdateExclusion, ListPullTimeUpdateExclusions, RegisterPullTimeUpdateExclusion } from './actions/pull-exclusions.js';
import { ListTagsForResource, PutImageScanningConfiguration, PutImageTagMutability, TagResource, UntagResource } from './actions/repository-settings.js';
import type { Principal } from '../../auth/principal.js';
import { parseRepositoryArn } from '../../core/arns.js';
import { REGISTRY_LEVEL_ACTIONS } from '../../iam/oci-actions.js';
import type { Authenticator } from '../authn.js';
import { noteDenied, noteOperation } from '../request-facts.js';
import { AccessDenied, type Authorizer, type AuthzTarget } from '../authz.js';
import type { EcrAction, EcrCall, LoginTokenIssuer } from './context.js';
import type { LifecyclePreviews } from '../../lifecycle/previews.js';
import { ECR_TARGET_PREFIX, EcrError, sendEcrError, sendEcrJson } from './protocol.js';
import { v2Location } from '../registry-address.js';
import { maySignAs } from '../signer/may-sign.js';

/** UploadLayerPart carries up to 20 MiB base64-encoded. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Before any credential is seen, no more than this is read (no unauthenticated call needs more). */
const MAX_UNAUTHENTICATED_BODY_BYTES = 64 * 1024;

const ACTIONS: Record<string, EcrAction> = {
  CreateRepository,
  DescribeRepositories,
  DeleteRepository,
  PutImageTagMutability,
  PutImageScanningConfiguration,
  TagResource,
  UntagResource,
  ListTagsForResource,
  PutImage,
  BatchGetImage,
  ListImages,
  DescribeImages,
  BatchDeleteImage,
  ListImageReferrers,
  UpdateImageStorageClass,
  BatchCheckLayerAvailability,
  InitiateLayerUpload,
  UploadLayerPart,
  CompleteLayerUpload,
  GetDownloadUrlForLayer,
  GetAuthorizationToken,
  SetRepositoryPolicy,
  GetRepositoryPolicy,
  DeleteRepositoryPolicy,
  PutRegistryPolicy,
  GetRegistryPolicy,
  DeleteRegistryPolicy,
  PutAccountSetting,
  GetAccountSetting,
  PutLifecyclePolicy,
  GetLifecyclePolicy,
  DeleteLifecyclePolicy,
  StartLifecyclePolicyPreview,
  GetLifecyclePolicyPreview,
  StartImageScan,
  DescribeImageScanFindings,
  DescribeRegistry,
  PutReplicationConfiguration,
  PutRegistryScanningConfiguration,
  GetRegistryScanningConfiguration,
  BatchGetRepositoryScanningConfiguration,
  CreateRepositoryCreationTemplate,
  DescribeRepositoryCreationTemplates,
  UpdateRepositoryCreationTemplate,
  DeleteRepositoryCreationTemplate,
  DescribeImageReplicationStatus,
  CreatePullThroughCacheRule,
  DescribePullThroughCacheRules,
  UpdatePullThroughCacheRule,
  DeletePullThroughCacheRule,
  ValidatePullThroughCacheRule,
  RegisterPullTimeUpdateExclusion,
  DeregisterPullTimeUpdateExclusion,
  ListPullTimeUpdateExclusions,
  StartReplicationBackfill,
  StopReplicationBackfill,
  ListReplicationBackfills,
  DescribeReplicationBackfillResults,
  PutSigningConfiguration,
  GetSigningConfiguration,
  DeleteSigningConfiguration,
  DescribeImageSigningStatus,
};

/** Registry-level operations ("*") beyond those IAM's module lists (src/iam/oci-actions.ts). */
const MORE_REGISTRY_LEVEL = [
  'RegisterPullTimeUpdateExclusion',
  'DeregisterPullTimeUpdateExclusion',
  'ListPullTimeUpdateExclusions',
  'StartReplicationBackfill',
  'StopReplicationBackfill',
  'ListReplicationBackfills',
  'DescribeReplicationBackfillResults',
  'PutSigningConfiguration',
  'GetSigningConfiguration',
  'DeleteSigningConfiguration',
];

export interface EcrRouterOptions {
  registry: Registry;
  log: Logger;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** Issues /v2 login tokens (GetAuthorizationToken). */
  loginTokens: LoginTokenIssuer;
  lifecyclePreviews: LifecyclePreviews;
  /** The region this deployment serves: the JSON API and /v2 address the same registry. */
  region: string;
  registryHost?: string;
  /** The pull-through cache's rules (ECR's API only). */
  pullThrough?: PullThroughRules;
  /** The pull-through cache's pull path (BatchGetImage, GetDownloadUrlForLayer may go upstream). */
  pullThroughCache?: PullThroughCache;
  /** Secrets Manager, for what a pull-through rule's credentials ask of its creator (../secret-use.ts). */
  secrets?: SecretsRouterOptions['secrets'];
  /** KMS's rule, for what a repository's customer managed key asks of its creator (../kms-key-use.ts). */
  keyUse?: KeyUseJudge;
}

export function isEcrRequest(req: IncomingMessage): boolean {
  return isJsonApiRequest(req, ECR_TARGET_PREFIX);
}

export function isJsonApiRequest(req: IncomingMessage, targetPrefix: string): boolean {
  const target = req.headers['x-amz-target'];
  return req.method === 'POST' && typeof target === 'string' && target.startsWith(targetPrefix);
}

/**
 * A JSON-protocol request (`X-Amz-Target`) for a service Berth does not serve (DynamoDB, Logs,
 * ...): answered as AWS answers an operation it does not know, before any signature check,
 * since no service list could match the signature's scope and a signature error would mislead.
 */
export function rejectUnknownJsonApi(req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  const target = String(req.headers['x-amz-target']).slice(0, 100);
  return sendEcrError(req, res, new EcrError(EcrCodes.UnknownOperation, `Unknown operation ${target}`), log);
}

/** One AWS JSON 1.1 service over the registry core: ECR, or ECR Public. */
export interface JsonApi {
  targetPrefix: string;
  /** SigV4 signing name, and the IAM action prefix. */
  service: 'ecr' | 'ecr-public';
  actions: Record<string, EcrAction>;
  /** Operations authorized on the registry ("*") rather than on the repositories they name. */
  registryLevel: ReadonlySet<string>;
  /** The registry region the API addresses, whatever the deployment's (ECR Public's is fixed). */
  region?: string;
  /** The one region the API's signatures are scoped to, when not the deployment's. */
  signingRegion?: string;
}

export const ECR_API: JsonApi = {
  targetPrefix: ECR_TARGET_PREFIX,
  service: 'ecr',
  actions: ACTIONS,
  registryLevel: new Set([...REGISTRY_LEVEL_ACTIONS, ...MORE_REGISTRY_LEVEL]),
};

export function routeEcr(opts: EcrRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return routeJsonApi(ECR_API, opts, req, res);
}

export async function routeJsonApi(api: JsonApi, opts: EcrRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const op = String(req.headers['x-amz-target']).slice(api.targetPrefix.length);
    const action = Object.hasOwn(api.actions, op) ? api.actions[op] : undefined;
    if (!action) throw new EcrError(EcrCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
    noteOperation(req, api.service, op);
    // Most calls declare a small body, and then the key need not be looked up twice.
    const declared = contentLength(req);
    const credentialed = (declared !== undefined && declared <= MAX_UNAUTHENTICATED_BODY_BYTES) || (await opts.authenticator.namesActiveKey(req));
    const raw = await readBody(req, credentialed ? MAX_BODY_BYTES : MAX_UNAUTHENTICATED_BODY_BYTES).catch(async () => {
      // Too large to read without credentials: the answer is the authentication error.
      if (!credentialed) await opts.authenticator.signed(req, Buffer.alloc(0), [api.service]);
      throw new EcrError(EcrCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => new EcrError(EcrCodes.Serialization, m));
    noteOperation(req, api.service, op, { params: body as Record<string, unknown> });
    // As AWS: a signature scoped to a region this endpoint does not serve is refused, so a
    // client's --region can never address a registry /v2 does not serve.
    const { principal } = await opts.authenticator.signed(req, raw, [api.service], [api.signingRegion ?? opts.region]);
    sendEcrJson(res, await runJsonApiCall(api, opts, req, principal, op, body as Record<string, unknown>));
  } catch (err) {
    await sendEcrError(req, res, err, opts.log);
  }
}

/**
 * Runs an operation as `principal` (whose credentials were checked): throttled, authorized as
 * the action it is, noted for the audit trail. The one path of the signed JSON API and of the
 * web console's calls, so both are authorized alike. Throws EcrError for an unknown operation.
 */
export async function runJsonApiCall(
  api: JsonApi,
  opts: Omit<EcrRouterOptions, 'authenticator'>,
  req: IncomingMessage,
  principal: Principal,
  op: string,
  body: Record<string, unknown>,
): Promise<unknown> {
  const action = Object.hasOwn(api.actions, op) ? api.actions[op] : undefined;
  if (!action) throw new EcrError(EcrCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
  noteOperation(req, api.service, op, { params: body });
  const region = api.region ?? opts.region;
  // Before any work for the call (authorization reads policies): a throttled call costs little.
  // ECR's calls share their buckets with /v2's (the same API behind ECR's proxy).
  opts.registry.apiRates?.take(api.service === 'ecr' ? principal.accountId : `${api.service}:${principal.accountId}`, op);
  await authorize(api, opts.authorizer, principal, op, body, region, req);
  const call: EcrCall = {
    registry: opts.registry,
    req,
    body,
    principal,
    accountId: principal.accountId,
    region,
    loginTokens: opts.loginTokens,
    lifecyclePreviews: opts.lifecyclePreviews,
    registryHost: opts.registryHost ?? req.headers.host ?? 'localhost',
    v2Location: (accountId) => v2Location(accountId, principal.accountId, opts.registryHost, req.headers.host ?? 'localhost'),
    log: opts.log,
    maySign: maySignAs(opts.authorizer, principal, req),
    ...(opts.keyUse && { mayUseKey: (registry) => callerKeyUse(opts.keyUse!, principal, registry, req) }),
    mayOnRegistry: registryChecks(api, opts.authorizer, principal, body, region, req),
    ...(opts.pullThrough &&
      api.service === 'ecr' && { pullThrough: opts.pullThrough, secretUse: (registry) => secretUse(opts.secrets, principal, req, registry) }),
    ...(opts.pullThroughCache &&
      api.service === 'ecr' && {
        pullThroughCache: { cache: opts.pullThroughCache, access: (scope) => importAccess(opts.authorizer, principal, req, scope) },
      }),
  };
  return action(call);
}

/** Operations IAM knows by another action's name (ecr-api.md §IAM). */
const IAM_ACTION_OF: Record<string, string> = { ListImageReferrers: 'BatchGetImage' };

/**
 * The operations that name their repository by ARN (`resourceArn`) instead of registryId and
 * repositoryName. Only these take the account they are judged in from an ARN: any other
 * operation acts on the registry its registryId names, so a `resourceArn` member it does not
 * take (and that a lenient input would drop) must not move its authorization into another
 * account, whose registry policy the caller may control.
 */
const ARN_ADDRESSED: ReadonlySet<string> = new Set(['TagResource', 'UntagResource', 'ListTagsForResource']);

/**
 * Authorizes an operation as `<service>:<Op>` on what it touches: the registry ("*") for
 * registry-level operations, else each repository it names (by name or, for ARN_ADDRESSED, by ARN).
 */
async function authorize(
  api: JsonApi,
  authorizer: Authorizer,
  principal: Principal,
  op: string,
  body: Record<string, unknown>,
  region: string,
  req: IncomingMessage,
): Promise<void> {
  let accountId = addressedAccount(principal, body);
  let repositories: Array<string | undefined> = [];
  const arn = ARN_ADDRESSED.has(op) && typeof body.resourceArn === 'string' ? parseRepositoryArn(body.resourceArn) : undefined;
  if (arn) [accountId, repositories] = [arn.accountId, [arn.name]];
  else if (typeof body.repositoryName === 'string') repositories = [body.repositoryName];
  else if (Array.isArray(body.repositoryNames)) repositories = body.repositoryNames.map(String);
  else if (op === 'DescribeRepositories') repositories = ['*'];
  if (repositories.length === 0 || api.registryLevel.has(op)) repositories = [undefined];
  const requestTags = jsonTags(body.tags);
  // UntagResource's aws:TagKeys: the keys it removes (malformed ones are left to validation).
  const removedTagKeys = Array.isArray(body.tagKeys) ? body.tagKeys.filter((k): k is string => typeof k === 'string') : undefined;
  // As in ECR, creating a repository with tags also takes the right to tag it.
  const actions = [
    IAM_ACTION_OF[op] ?? op,
    ...(op === 'CreateRepository' && requestTags && requestTags.length > 0 ? ['TagResource'] : []),
    ...templateImpliedActions(op, body),
  ];
  const base = {
    origin: requestOrigin(req),
    resourceAccountId: accountId,
    region,
    ...(requestTags !== undefined && { requestTags }),
    ...(removedTagKeys !== undefined && { removedTagKeys }),
  };
  const targets = repositories.map((repository) => ({ ...base, ...(repository !== undefined && { repository }) }));
  await checkEach(
    authorizer,
    principal,
    req,
    actions.map((a) => `${api.service}:${a}`),
    targets,
  );
  const role = templatePassedRole(op, body);
  if (role !== undefined) await requirePassRole(authorizer, principal, req, { roleArn: role, region, passedToService: 'ecr.amazonaws.com', accountId });
}

/** The account a call addresses: its registryId (a malformed one names none: validation refuses it, as ECR does first), else the caller's. */
function addressedAccount(principal: Principal, body: Record<string, unknown>): string {
  return typeof body.registryId === 'string' && /^\d{12}$/.test(body.registryId) ? body.registryId : principal.accountId;
}

/** Each action on each target, refused in ECR's words (AccessDeniedException, noted for the trail). */
async function checkEach(
  authorizer: Authorizer,
  principal: Principal,
  req: IncomingMessage,
  actions: string[],
  targets: Array<Omit<AuthzTarget, 'action'>>,
): Promise<void> {
  try {
    for (const action of actions) {
      for (const target of targets) await authorizer.check(principal, { ...target, action });
    }
  } catch (e) {
    if (e instanceof AccessDenied) {
      noteDenied(req, e.action, e.resource);
      throw new EcrError(Codes.Denied, e.message);
    }
    throw e;
  }
}

/** Checks `<service>:<action>` on the registry the call addresses ("*"), as authorize checks the call's own. */
function registryChecks(api: JsonApi, authorizer: Authorizer, principal: Principal, body: Record<string, unknown>, region: string, req: IncomingMessage) {
  const target = { origin: requestOrigin(req), resourceAccountId: addressedAccount(principal, body), region };
  return (actions: string[]) =>
    checkEach(
      authorizer,
      principal,
      req,
      actions.map((a) => `${api.service}:${a}`),
      [target],
    );
}
