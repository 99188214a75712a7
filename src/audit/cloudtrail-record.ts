/**
 * A call as CloudTrail records it: the event's fields, named and shaped as CloudTrail writes
 * them (eventVersion 1.08), built from what the front doors learned about the request. The rules
 * that decide what is recorded and how are here; the doors only say what happened.
 *
 * What is kept of a call's parameters follows CloudTrail: secrets are never stored (IAM
 * passwords and secret keys read HIDDEN_DUE_TO_SECURITY_REASONS; KMS plaintext and ciphertext
 * are left out, as CloudTrail leaves them out of Encrypt/Decrypt events); policy documents are
 * kept, as CloudTrail keeps policyDocument and policyText, since they are what an auditor asks
 * about. responseElements are never recorded (null), so nothing a call returns (a new access
 * key's secret, a login token, a data key) can reach the trail.
 */
import { timeOrderedUuid } from './event-id.js';
import { PUBLIC_REGION, repositoryArn } from '../core/arns.js';
import { Codes } from '../core/errors.js';
import type { AuditEventRow } from '../metadata/audit-rows.js';

export const HIDDEN = 'HIDDEN_DUE_TO_SECURITY_REASONS';
/** A longer string parameter (a manifest, a large policy) is cut to this many characters. */
const MAX_PARAM_CHARS = 32 * 1024;

/** The caller as the doors know it (auth's Principal fits). */
export interface AuditIdentity {
  arn: string;
  accountId: string;
  kind: 'root' | 'user' | 'role' | 'anonymous';
  userName?: string;
  accessKeyId?: string;
  /** An assumed role's: the role's ARN. */
  principalArn?: string;
  session?: { role?: { name: string; roleId: string; sessionName: string } };
}

/** The doors, as request-facts names them. */
export type AuditApi = 'oci' | 'ecr' | 'ecr-public' | 'iam' | 'sts' | 'kms' | 'events' | 'cloudtrail' | 'secretsmanager' | 'signer' | 'signin';

/**
 * What one request was, in the doors' words: plain data, since it is built on the event loop
 * and turned into a record on the audit thread (audit-thread.ts).
 */
export interface AuditedCall {
  api: AuditApi;
  /** The JSON/Query action, or for /v2 the OCI operation (`manifest-read`, ...). */
  operation: string;
  /** The HTTP method (/v2 operations depend on it). */
  method: string;
  principal: AuditIdentity;
  /** For /v2, the route's parameters; for the other doors, as recorded (see recordedParameters). */
  params?: Readonly<Record<string, unknown>>;
  error?: { code: string; message: string };
  requestId: string;
  time: Date;
  region: string;
  sourceIp?: string;
  userAgent?: string;
  /** Given by the call's place in its stored batch (eventIdOf); absent while queued. */
  eventId?: string;
}

export interface CloudTrailRecord {
  eventVersion: string;
  userIdentity: {
    type: 'Root' | 'IAMUser' | 'AssumedRole';
    principalId?: string | undefined;
    arn: string;
    accountId: string;
    accessKeyId?: string | undefined;
    userName?: string | undefined;
    sessionContext?: { sessionIssuer: { type: 'Role'; principalId: string; arn: string; accountId: string; userName: string } } | undefined;
  };
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  requestParameters: Record<string, unknown> | null;
  responseElements: null;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources?: Array<{ accountId: string; type: string; ARN: string }> | undefined;
  eventType: 'AwsApiCall';
  managementEvent: true;
  recipientAccountId: string;
  eventCategory: 'Management';
}

const EVENT_SOURCES: Record<AuditApi, string> = {
  oci: 'ecr.amazonaws.com',
  ecr: 'ecr.amazonaws.com',
  'ecr-public': 'ecr-public.amazonaws.com',
  iam: 'iam.amazonaws.com',
  sts: 'sts.amazonaws.com',
  kms: 'kms.amazonaws.com',
  events: 'events.amazonaws.com',
  cloudtrail: 'cloudtrail.amazonaws.com',
  secretsmanager: 'secretsmanager.amazonaws.com',
  signer: 'signer.amazonaws.com',
  // The web console's sign-in (ConsoleLogin), as AWS's sign-in service records it.
  signin: 'signin.amazonaws.com',
};

/**
 * The /v2 operations worth a record, under the names CloudTrail gives docker traffic. Left out,
 * to keep the trail's cost bounded and its content meaningful: the version check (`GET /v2/`,
 * every client's first request), blob HEADs (BatchCheckLayerAvailability: one per layer per push,
 * answering only "do you have it"), manifest HEADs (a tag-to-digest check before the GET that is
 * recorded), upload status reads and cancels, and the referrers listing. Each PATCH of a chunked
 * upload is an UploadLayerPart, as CloudTrail records each part. A Bearer token exchange at
 * /token is a registry login, recorded as ECR records the one `aws ecr get-login-password`
 * makes (GetAuthorizationToken); an anonymous one names no account, so no trail has it.
 */
export function ociEventName(operation: string, method: string): string | undefined {
  switch (operation) {
    case 'manifest-read':
      return method === 'GET' ? 'BatchGetImage' : undefined;
    case 'manifest-write':
      return 'PutImage';
    case 'manifest-delete':
    case 'blob-delete':
      return 'BatchDeleteImage';
    case 'blob-read':
      return method === 'GET' ? 'GetDownloadUrlForLayer' : undefined;
    case 'upload-start':
      return 'InitiateLayerUpload';
    case 'upload-write':
      return 'UploadLayerPart';
    case 'upload-complete':
      return 'CompleteLayerUpload';
    case 'catalog':
      return 'DescribeRepositories';
    case 'tags':
      return 'ListImages';
    case 'token':
      return 'GetAuthorizationToken';
    default:
      return undefined;
  }
}

const READ_ONLY = /^(Get|List|Describe|BatchGet|BatchCheck|Lookup|Simulate)/;
/** KMS's cryptographic operations change nothing: CloudTrail marks them read-only. */
const KMS_READS = new Set(['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncrypt', 'GenerateRandom']);

/**
 * Parameters whose value is a secret: recorded as CloudTrail records them, hidden. ApiKeyValue
 * is an EventBridge connection's credential (CreateConnection, UpdateConnection).
 */
const SECRET_NAME = /password|passwd|secret(?!id$)|sessiontoken|privatekey|apikeyvalue/i;
/** Parameters CloudTrail leaves out altogether: data, not settings. */
const OMITTED = new Set(['plaintext', 'ciphertextBlob', 'sourceCiphertextBlob', 'layerPartBlob']);
/** Query API fields that are the protocol, not the call's parameters. */
const PROTOCOL_FIELD = /^(Action|Version|X-Amz-.*|AWSAccessKeyId|Signature.*|SecurityToken|Timestamp)$/i;

/** The event a call is recorded as; undefined for a call not worth a record. */
export function eventNameOf(call: Pick<AuditedCall, 'api' | 'operation' | 'method'>): string | undefined {
  return call.api === 'oci' ? ociEventName(call.operation, call.method) : call.operation;
}

/**
 * A call as queued for the trail, or undefined when it is not recorded. Runs on the event loop
 * for every request, so it does only what must happen there: the cheap checks and the redaction
 * of JSON and Query parameters, which also bounds what a queued call holds (a 4 MiB manifest is
 * cut to MAX_PARAM_CHARS). A /v2 call is returned as given: the writer packs it at once (only
 * the principal's identity fields are read, audit-batch.ts callValues), so nothing is copied.
 * The record itself is built on the audit thread; the event id comes from the call's place in
 * its batch (event-id.ts).
 */
export function recordedCall(call: Omit<AuditedCall, 'eventId'>): AuditedCall | undefined {
  const p = call.principal;
  if (p.kind === 'anonymous' || p.accountId === '' || eventNameOf(call) === undefined) return undefined;
  if (call.api === 'oci') return call;
  const params = redactParameters(call.params);
  const out: AuditedCall = { ...call };
  if (params === null) delete out.params;
  else out.params = params;
  return out;
}

/**
 * Builds the record of a call; undefined when the call is not recorded (see ociEventName). The
 * parameters of a call that is not /v2 must have been redacted already (recordedCall does it).
 */
export function cloudTrailRecord(call: AuditedCall): CloudTrailRecord | undefined {
  const eventName = eventNameOf(call);
  if (eventName === undefined || call.principal.kind === 'anonymous' || call.principal.accountId === '') return undefined;
  const p = call.principal;
  const account = p.accountId;
  const role = p.kind === 'role' ? p.session?.role : undefined;
  const params = call.api === 'oci' ? ociParameters(call, account) : (call.params ?? null);
  const resources = resourcesOf(call.api, params, account, call.region);
  // One object literal of a fixed shape (absent fields undefined, which JSON leaves out): this
  // runs once per request, and spreads of optional parts cost several times as much.
  const record: CloudTrailRecord = {
    eventVersion: '1.08',
    userIdentity: {
      type: p.kind === 'root' ? 'Root' : role ? 'AssumedRole' : 'IAMUser',
      principalId: p.kind === 'root' ? account : role ? `${role.roleId}:${role.sessionName}` : undefined,
      arn: p.arn,
      accountId: account,
      accessKeyId: p.accessKeyId,
      userName: p.userName,
      sessionContext: role && {
        sessionIssuer: { type: 'Role', principalId: role.roleId, arn: p.principalArn ?? p.arn, accountId: account, userName: role.name },
      },
    },
    eventTime: call.time.toISOString().slice(0, 19) + 'Z',
    eventSource: EVENT_SOURCES[call.api],
    eventName,
    awsRegion: call.region,
    sourceIPAddress: call.sourceIp ?? '',
    userAgent: call.userAgent === undefined ? '' : call.userAgent.slice(0, 1024),
    errorCode: call.error ? errorCodeOf(call.api, call.error.code) : undefined,
    errorMessage: call.error ? call.error.message.slice(0, 1024) : undefined,
    requestParameters: params,
    responseElements: null,
    requestID: call.requestId,
    eventID: call.eventId ?? timeOrderedUuid(call.time),
    readOnly: isReadOnly(call.api, eventName),
    resources: resources.length > 0 ? resources : undefined,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
  return record;
}

function isReadOnly(api: AuditApi, eventName: string): boolean {
  return READ_ONLY.test(eventName) || (api === 'kms' && KMS_READS.has(eventName));
}

/**
 * The columns LookupEvents filters on, read off the call without building its record (the same
 * values the record holds: see usernameOf, resourceNameOf); `record` is left empty for the
 * caller (stored-call.ts) to fill. Undefined for a call that is not recorded.
 */
export function lookupColumns(call: AuditedCall): AuditEventRow | undefined {
  const eventName = eventNameOf(call);
  const p = call.principal;
  if (eventName === undefined || p.kind === 'anonymous' || p.accountId === '') return undefined;
  const row: AuditEventRow = {
    eventId: call.eventId ?? '',
    accountId: p.accountId,
    eventTime: call.time,
    eventName,
    eventSource: EVENT_SOURCES[call.api],
    readOnly: isReadOnly(call.api, eventName),
    record: '',
  };
  const role = p.kind === 'role' ? p.session?.role : undefined;
  const username = p.kind === 'root' ? 'root' : role ? role.sessionName : p.userName;
  if (username !== undefined) row.username = username;
  if (p.accessKeyId !== undefined) row.accessKeyId = p.accessKeyId;
  const params = call.api === 'oci' ? ociParameters(call, p.accountId) : (call.params ?? null);
  const resource = resourcesOf(call.api, params, p.accountId, call.region)[0];
  if (resource) {
    row.resourceType = resource.type;
    row.resourceName = resourceNameOf(resource);
  }
  return row;
}

/** As CloudTrail's event history names the caller: the user's name, or `root`. */
export function usernameOf(r: CloudTrailRecord): string | undefined {
  // CloudTrail's User name of an assumed role is its session name.
  if (r.userIdentity.type === 'AssumedRole') return r.userIdentity.principalId?.slice(r.userIdentity.principalId.indexOf(':') + 1);
  return r.userIdentity.type === 'Root' ? 'root' : r.userIdentity.userName;
}

/** A repository's name (what LookupEvents' ResourceName matches), a key's id or ARN. */
export function resourceNameOf(resource: { type: string; ARN: string }): string {
  if (resource.type.startsWith('AWS::ECR')) return resource.ARN.slice(resource.ARN.indexOf(':repository/') + ':repository/'.length);
  return resource.ARN;
}

/**
 * A /v2 error in the name the same refusal has on ECR's JSON API (DENIED is AccessDeniedException);
 * the other doors' errors are recorded under the wire name their client saw.
 */
function errorCodeOf(api: AuditApi, code: string): string {
  if (api !== 'oci') return code;
  for (const c of Object.values(Codes)) if (c.oci === code) return c.ecr;
  return code;
}

/**
 * A /v2 request's parameters in the shape of the ECR action it is. A token exchange's are none:
 * its form carries the credential, and GetAuthorizationToken's record has no parameters.
 */
function ociParameters(call: AuditedCall, account: string): Record<string, unknown> | null {
  if (call.operation === 'token') return null;
  const p = call.params ?? {};
  // The registry the request addressed: the caller's own unless the door noted another account's.
  const out: Record<string, unknown> = { registryId: typeof p.registryId === 'string' ? p.registryId : account };
  if (typeof p.name === 'string') out.repositoryName = p.name;
  if (typeof p.reference === 'string') out.imageIds = [p.reference.includes(':') ? { imageDigest: p.reference } : { imageTag: p.reference }];
  if (call.operation === 'manifest-write' && typeof p.reference === 'string') {
    delete out.imageIds;
    out[p.reference.includes(':') ? 'imageDigest' : 'imageTag'] = p.reference;
  }
  if (typeof p.digest === 'string') out.layerDigest = p.digest;
  if (typeof p.id === 'string') out.uploadId = p.id;
  return out;
}

/** A JSON or Query call's parameters with CloudTrail's key case, secrets hidden, data left out. */
export function redactParameters(params: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | null {
  if (params === undefined) return null;
  const out = redactObject(params, true);
  return Object.keys(out).length === 0 ? null : out;
}

function redactObject(o: Readonly<Record<string, unknown>>, top: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (top && PROTOCOL_FIELD.test(key)) continue;
    const name = key.length > 0 ? key[0]!.toLowerCase() + key.slice(1) : key;
    if (OMITTED.has(name)) continue;
    out[name] = SECRET_NAME.test(key) ? HIDDEN : redactValue(value);
  }
  return out;
}

function redactValue(v: unknown): unknown {
  if (typeof v === 'string') return v.length > MAX_PARAM_CHARS ? `${v.slice(0, MAX_PARAM_CHARS)}…(${v.length} characters)` : v;
  if (Array.isArray(v)) return v.slice(0, 1000).map(redactValue);
  if (typeof v === 'object' && v !== null) return redactObject(v as Record<string, unknown>, false);
  return v;
}

/** What a call addressed, as CloudTrail's resources list: the repository, or the KMS key named by ARN. */
function resourcesOf(
  api: AuditApi,
  params: Record<string, unknown> | null,
  account: string,
  region: string,
): Array<{ accountId: string; type: string; ARN: string }> {
  if (params === null) return [];
  if ((api === 'ecr' || api === 'oci' || api === 'ecr-public') && typeof params.repositoryName === 'string') {
    const owner = typeof params.registryId === 'string' && /^\d{12}$/.test(params.registryId) ? params.registryId : account;
    const isPublic = api === 'ecr-public';
    return [
      {
        accountId: owner,
        type: isPublic ? 'AWS::ECRPublic::Repository' : 'AWS::ECR::Repository',
        ARN: repositoryArn(isPublic ? PUBLIC_REGION : region, owner, params.repositoryName),
      },
    ];
  }
  if (api === 'kms' && typeof params.keyId === 'string') {
    const arn = params.keyId.startsWith('arn:')
      ? params.keyId
      : `arn:aws:kms:${region}:${account}:${params.keyId.startsWith('alias/') ? '' : 'key/'}${params.keyId}`;
    return [{ accountId: account, type: 'AWS::KMS::Key', ARN: arn }];
  }
  return [];
}
