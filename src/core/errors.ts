/**
 * The error catalogue: every error a client can see is registered here once, with its OCI
 * distribution code, its ECR exception `__type` and its HTTP status. Use cases throw
 * RegistryError; each front door renders it in its own wire format.
 */

export interface ErrorCode {
  /** OCI distribution-spec error code, e.g. BLOB_UNKNOWN. */
  readonly oci: string;
  /** ECR JSON API exception name, e.g. LayersNotFoundException. */
  readonly ecr: string;
  /** HTTP status on /v2. */
  readonly status: number;
  /** Default human message. */
  readonly message: string;
  /** HTTP status on the JSON API when it is not the one the /v2 status implies (4xx → 400, 5xx → 500). */
  readonly ecrStatus?: number;
}

function code(c: ErrorCode): ErrorCode {
  return Object.freeze(c);
}

export const Codes = {
  BlobUnknown: code({ oci: 'BLOB_UNKNOWN', ecr: 'LayersNotFoundException', status: 404, message: 'blob unknown to registry' }),
  BlobUploadInvalid: code({ oci: 'BLOB_UPLOAD_INVALID', ecr: 'InvalidLayerPartException', status: 400, message: 'blob upload invalid' }),
  BlobUploadUnknown: code({ oci: 'BLOB_UPLOAD_UNKNOWN', ecr: 'UploadNotFoundException', status: 404, message: 'blob upload unknown to registry' }),
  RangeInvalid: code({ oci: 'BLOB_UPLOAD_INVALID', ecr: 'InvalidLayerPartException', status: 416, message: 'requested range not satisfiable' }),
  DigestInvalid: code({ oci: 'DIGEST_INVALID', ecr: 'InvalidLayerException', status: 400, message: 'provided digest did not match uploaded content' }),
  ManifestBlobUnknown: code({
    oci: 'MANIFEST_BLOB_UNKNOWN',
    ecr: 'LayersNotFoundException',
    status: 400,
    message: 'manifest references a manifest or blob unknown to registry',
  }),
  ManifestChildUnknown: code({
    oci: 'MANIFEST_BLOB_UNKNOWN',
    ecr: 'ReferencedImagesNotFoundException',
    status: 400,
    message: 'manifest references manifests unknown to the repository',
  }),
  ManifestInvalid: code({ oci: 'MANIFEST_INVALID', ecr: 'InvalidParameterException', status: 400, message: 'manifest invalid' }),
  ManifestUnknown: code({ oci: 'MANIFEST_UNKNOWN', ecr: 'ImageNotFoundException', status: 404, message: 'manifest unknown to registry' }),
  // A manifest an index lists: 409, the repository's state is what refuses (delete the index
  // first); DENIED is the spec's nearest code (zot answers DENIED too; GitLab's registry, 409).
  // On ECR it is the per-image failure ImageReferencedByManifestList, never an exception.
  ManifestReferenced: code({ oci: 'DENIED', ecr: 'InvalidParameterException', status: 409, message: 'manifest is referenced by an index' }),
  ManifestTooLarge: code({ oci: 'MANIFEST_INVALID', ecr: 'InvalidParameterException', status: 413, message: 'manifest exceeds the size limit' }),
  NameInvalid: code({ oci: 'NAME_INVALID', ecr: 'InvalidParameterException', status: 400, message: 'invalid repository name' }),
  NameUnknown: code({ oci: 'NAME_UNKNOWN', ecr: 'RepositoryNotFoundException', status: 404, message: 'repository name not known to registry' }),
  SizeInvalid: code({ oci: 'SIZE_INVALID', ecr: 'InvalidLayerException', status: 400, message: 'provided length did not match content length' }),
  TagInvalid: code({ oci: 'TAG_INVALID', ecr: 'InvalidParameterException', status: 400, message: 'invalid tag' }),
  TagImmutable: code({
    oci: 'TAG_INVALID',
    ecr: 'ImageTagAlreadyExistsException',
    status: 400,
    message: 'the tag is immutable and already points to another image',
  }),
  Unauthorized: code({ oci: 'UNAUTHORIZED', ecr: 'UnrecognizedClientException', status: 401, message: 'authentication required' }),
  Denied: code({ oci: 'DENIED', ecr: 'AccessDeniedException', status: 403, message: 'requested access to the resource is denied' }),
  Unsupported: code({ oci: 'UNSUPPORTED', ecr: 'UnsupportedImageTypeException', status: 415, message: 'the operation is unsupported' }),
  MethodNotAllowed: code({ oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', status: 405, message: 'the operation is unsupported' }),
  TooManyRequests: code({ oci: 'TOOMANYREQUESTS', ecr: 'LimitExceededException', status: 429, message: 'too many requests' }),
  PaginationInvalid: code({ oci: 'PAGINATION_NUMBER_INVALID', ecr: 'InvalidParameterException', status: 400, message: 'invalid number of results requested' }),
  NotFound: code({ oci: 'NOT_FOUND', ecr: 'InvalidParameterException', status: 404, message: 'not found' }),
  // Errors only the ECR JSON API can produce; their OCI codes are for completeness.
  RepositoryAlreadyExists: code({ oci: 'DENIED', ecr: 'RepositoryAlreadyExistsException', status: 400, message: 'repository already exists' }),
  RepositoryNotEmpty: code({ oci: 'DENIED', ecr: 'RepositoryNotEmptyException', status: 400, message: 'repository still contains images' }),
  InvalidParameter: code({ oci: 'UNSUPPORTED', ecr: 'InvalidParameterException', status: 400, message: 'invalid parameter' }),
  InvalidTagParameter: code({ oci: 'UNSUPPORTED', ecr: 'InvalidTagParameterException', status: 400, message: 'invalid tag parameter' }),
  TooManyTags: code({ oci: 'UNSUPPORTED', ecr: 'TooManyTagsException', status: 400, message: 'too many tags' }),
  LimitExceeded: code({ oci: 'TOOMANYREQUESTS', ecr: 'LimitExceededException', status: 429, message: 'limit exceeded' }),
  ImageAlreadyExists: code({ oci: 'UNSUPPORTED', ecr: 'ImageAlreadyExistsException', status: 400, message: 'image already exists' }),
  ImageDigestDoesNotMatch: code({ oci: 'DIGEST_INVALID', ecr: 'ImageDigestDoesNotMatchException', status: 400, message: 'image digest does not match' }),
  LayerAlreadyExists: code({ oci: 'UNSUPPORTED', ecr: 'LayerAlreadyExistsException', status: 400, message: 'layer already exists' }),
  EmptyUpload: code({ oci: 'SIZE_INVALID', ecr: 'EmptyUploadException', status: 400, message: 'the upload is empty' }),
  ScanNotFound: code({ oci: 'NOT_FOUND', ecr: 'ScanNotFoundException', status: 404, message: 'the image has not been scanned' }),
  SigningConfigurationNotFound: code({ oci: 'NOT_FOUND', ecr: 'SigningConfigurationNotFoundException', status: 404, message: 'no signing configuration' }),
  KmsException: code({ oci: 'DENIED', ecr: 'KmsException', status: 403, message: "the repository's KMS key cannot be used" }),
  TemplateAlreadyExists: code({
    oci: 'DENIED',
    ecr: 'TemplateAlreadyExistsException',
    status: 409,
    message: 'the repository creation template already exists',
  }),
  TemplateNotFound: code({ oci: 'NOT_FOUND', ecr: 'TemplateNotFoundException', status: 404, message: 'the repository creation template does not exist' }),
  ExclusionAlreadyExists: code({
    oci: 'DENIED',
    ecr: 'ExclusionAlreadyExistsException',
    status: 409,
    message: 'the pull time update exclusion already exists',
  }),
  ExclusionNotFound: code({ oci: 'NOT_FOUND', ecr: 'ExclusionNotFoundException', status: 404, message: 'the pull time update exclusion was not found' }),
  ReplicationBackfillNotFound: code({
    oci: 'NOT_FOUND',
    ecr: 'ReplicationBackfillNotFoundException',
    status: 404,
    message: 'the replication backfill could not be found',
  }),
  ReplicationBackfillInProgress: code({
    oci: 'DENIED',
    ecr: 'ReplicationBackfillInProgressException',
    status: 409,
    message: 'a replication backfill is already in progress for the destination region',
  }),
  ReplicationBackfillInvalidStatus: code({
    oci: 'DENIED',
    ecr: 'ReplicationBackfillInvalidStatusException',
    status: 409,
    message: 'the replication backfill is not in a valid status for the operation',
  }),
  /**
   * The disk or the database is full. 507 says so on /v2, under the spec code for an upload
   * that cannot proceed; on the JSON API a 400 LimitExceededException, which SDKs do not retry
   * in vain as they would a 5xx ServerException.
   */
  StorageFull: code({ oci: 'BLOB_UPLOAD_INVALID', ecr: 'LimitExceededException', status: 507, ecrStatus: 400, message: 'storage is full' }),
  Internal: code({ oci: 'UNKNOWN', ecr: 'ServerException', status: 500, message: 'internal server error' }),
  /**
   * A service quota (registry/quotas.ts) reached. A count: retrying cannot help, so DENIED (403)
   * on /v2, not TOOMANYREQUESTS; a size: the spec's code for the thing too large.
   */
  QuotaExceeded: code({ oci: 'DENIED', ecr: 'LimitExceededException', status: 403, ecrStatus: 400, message: 'service quota exceeded' }),
  LayerQuotaExceeded: code({ oci: 'SIZE_INVALID', ecr: 'LimitExceededException', status: 400, message: 'layer exceeds a size quota' }),
  ManifestQuotaExceeded: code({
    oci: 'MANIFEST_INVALID',
    ecr: 'LimitExceededException',
    status: 413,
    ecrStatus: 400,
    message: 'manifest exceeds its size quota',
  }),
  /** An API rate (registry/api-rates.ts) reached: the AWS SDKs and CLI retry ThrottlingException with backoff. */
  Throttled: code({ oci: 'TOOMANYREQUESTS', ecr: 'ThrottlingException', status: 429, ecrStatus: 400, message: 'rate exceeded' }),
  /**
   * The pull-through cache's upstream failed (down, slow, an error status) for content not
   * cached: 502 on /v2 under distribution's UNAVAILABLE; ECR's exceptions on the JSON API.
   */
  UpstreamImageUnavailable: code({
    oci: 'UNAVAILABLE',
    ecr: 'UnableToGetUpstreamImageException',
    status: 502,
    ecrStatus: 400,
    message: 'the upstream registry could not provide the image',
  }),
  UpstreamLayerUnavailable: code({
    oci: 'UNAVAILABLE',
    ecr: 'UnableToGetUpstreamLayerException',
    status: 502,
    ecrStatus: 400,
    message: 'the upstream registry could not provide the layer',
  }),
  // The archive storage class: ECR answers a pull of an archived image with a 404; on /v2 the
  // spec's unknown codes say so, with a message naming the archive and the way back.
  ImageArchived: code({ oci: 'MANIFEST_UNKNOWN', ecr: 'ImageArchivedException', status: 404, message: 'the image is archived' }),
  LayerArchived: code({ oci: 'BLOB_UNKNOWN', ecr: 'LayerInaccessibleException', status: 404, message: 'the layer belongs only to archived images' }),
  ImageStorageClassUpdateNotSupported: code({
    oci: 'UNSUPPORTED',
    ecr: 'ImageStorageClassUpdateNotSupportedException',
    status: 400,
    message: 'the requested image storage class update is not supported',
  }),
} as const;

export type CodeName = keyof typeof Codes;

/**
 * Facts about an error that a front door may pass on in its own terms (on /v2, as headers), so
 * the core says what happened without knowing HTTP.
 */
export interface ErrorHints {
  /** The client may try again after this many seconds. */
  retryAfterSeconds?: number;
  /** A range missed the content, which is this many bytes long. */
  unsatisfiableRange?: { size: number };
  /** An upload refused a chunk but stays open, holding this many bytes (where the next chunk starts). */
  uploadOpen?: { id: string; size: number };
  /** The methods the resource does answer (a 405 names them). */
  allowedMethods?: readonly string[];
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  readonly hints: ErrorHints;

  constructor(code: ErrorCode, message?: string, detail?: unknown, hints: ErrorHints = {}) {
    super(message ?? code.message);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
    this.hints = hints;
  }
}

export function isRegistryError(e: unknown): e is RegistryError {
  return e instanceof RegistryError;
}

/** Error codes of a full disk or quota: the OS's, SQLite's, PostgreSQL's (SQLSTATE 53100 disk_full). */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** Whether an error, or one it was caused by, says the storage is full. */
export function isStorageFull(e: unknown): boolean {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if (cur instanceof RegistryError) return cur.code === Codes.StorageFull;
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) return true;
    if (cur instanceof AggregateError && cur.errors.some(isStorageFull)) return true;
  }
  return false;
}

/**
 * A wire error name of one protocol with its HTTP status: for the names only the JSON and Query
 * APIs produce, which no use case throws as a RegistryError and so have no OCI code.
 */
export interface WireCode {
  /** ECR/KMS `__type`, or IAM/STS `<Code>`. */
  readonly code: string;
  readonly status: number;
}

function wire(code: string, status = 400): WireCode {
  return Object.freeze({ code, status });
}

/** A catalogue entry as the ECR JSON API renders it: its exception name; 400 for a client error, 500 for a fault. */
export function ecrWire(c: ErrorCode): WireCode {
  return { code: c.ecr, status: c.ecrStatus ?? (c.status >= 500 ? 500 : 400) };
}

/** ECR JSON API `__type`s (also ECR Public's) beyond those of `Codes`, and the AWS JSON protocol's authentication errors. */
export const EcrCodes = {
  Serialization: wire('SerializationException'),
  Validation: wire('ValidationException'),
  UnknownOperation: wire('UnknownOperationException'),
  RepositoryPolicyNotFound: wire('RepositoryPolicyNotFoundException'),
  RegistryPolicyNotFound: wire('RegistryPolicyNotFoundException'),
  /** ECR Public: a registry alias no registry has. */
  RegistryNotFound: wire('RegistryNotFoundException'),
  LifecyclePolicyNotFound: wire('LifecyclePolicyNotFoundException'),
  LifecyclePolicyPreviewInProgress: wire('LifecyclePolicyPreviewInProgressException'),
  LifecyclePolicyPreviewNotFound: wire('LifecyclePolicyPreviewNotFoundException'),
  MissingAuthenticationToken: wire('MissingAuthenticationTokenException', 403),
  IncompleteSignature: wire('IncompleteSignatureException'),
  InvalidSignature: wire('InvalidSignatureException'),
  ExpiredToken: wire('ExpiredTokenException'),
} as const;

/** AWS Signer (REST-JSON) error types, with the statuses Signer answers them with. */
export const SignerCodes = {
  ResourceNotFound: wire('ResourceNotFoundException', 404),
  Validation: wire('ValidationException'),
  AccessDenied: wire('AccessDeniedException', 403),
  Serialization: wire('SerializationException'),
  UnknownOperation: wire('UnknownOperationException', 404),
  Internal: wire('InternalServiceErrorException', 500),
  /** Signer's refusal past a service limit (402, as its model says). */
  ServiceLimitExceeded: wire('ServiceLimitExceededException', 402),
} as const;

/** IAM and STS Query API `<Code>`s, with the statuses AWS answers them with. */
export const IamCodes = {
  Validation: wire('ValidationError'),
  NoSuchEntity: wire('NoSuchEntity', 404),
  EntityAlreadyExists: wire('EntityAlreadyExists', 409),
  DeleteConflict: wire('DeleteConflict', 409),
  LimitExceeded: wire('LimitExceeded', 409),
  MalformedPolicyDocument: wire('MalformedPolicyDocument'),
  /** IAM's refusal of a value the model allows but the action does not (a permissions boundary that is no policy ARN). */
  InvalidInput: wire('InvalidInput'),
  /** The Query protocol's common error for a value that is not of its member's type (an integer that is none). */
  InvalidParameterValue: wire('InvalidParameterValue'),
  InvalidAction: wire('InvalidAction'),
  AccessDenied: wire('AccessDenied', 403),
  ServiceFailure: wire('ServiceFailure', 500),
  MissingAuthenticationToken: wire('MissingAuthenticationToken', 403),
  IncompleteSignature: wire('IncompleteSignature'),
  SignatureDoesNotMatch: wire('SignatureDoesNotMatch', 403),
  RequestExpired: wire('RequestExpired'),
  InvalidClientTokenId: wire('InvalidClientTokenId', 403),
  ExpiredToken: wire('ExpiredToken', 403),
  // STS's web-identity and session refusals.
  InvalidIdentityToken: wire('InvalidIdentityToken'),
  IdpCommunicationError: wire('IDPCommunicationError'),
  PackedPolicyTooLarge: wire('PackedPolicyTooLarge'),
  /** AssumeRoleWithWebIdentity's expired web identity token (STS names it so, unlike ExpiredToken). */
  WebIdentityExpired: wire('ExpiredTokenException'),
  // Console passwords (login profiles, ChangePassword).
  PasswordPolicyViolation: wire('PasswordPolicyViolation'),
  InvalidUserType: wire('InvalidUserType'),
  /** IAM's rate refusal (botocore and the SDKs retry it with backoff). */
  Throttling: wire('Throttling'),
} as const;

/** KMS JSON API `__type`s: Berth's own KMS answers with them, and an AWS KMS answers Berth with them. */
export const KmsCodes = {
  NotFound: wire('NotFoundException'),
  Disabled: wire('DisabledException'),
  Validation: wire('ValidationException'),
  Serialization: wire('SerializationException'),
  UnknownOperation: wire('UnknownOperationException'),
  AlreadyExists: wire('AlreadyExistsException'),
  InvalidAliasName: wire('InvalidAliasNameException'),
  LimitExceeded: wire('LimitExceededException'),
  AccessDenied: wire('AccessDeniedException'),
  InvalidState: wire('KMSInvalidStateException'),
  InvalidCiphertext: wire('InvalidCiphertextException'),
  IncorrectKey: wire('IncorrectKeyException'),
  InvalidMarker: wire('InvalidMarkerException'),
  KeyUnavailable: wire('KeyUnavailableException'),
  UnsupportedOperation: wire('UnsupportedOperationException'),
  DryRunOperation: wire('DryRunOperationException'),
  Internal: wire('KMSInternalException', 500),
} as const;

/** EventBridge JSON API `__type`s (`aws events`: rules, targets, connections, API destinations). */
export const EventsCodes = {
  ResourceNotFound: wire('ResourceNotFoundException'),
  ResourceAlreadyExists: wire('ResourceAlreadyExistsException'),
  Validation: wire('ValidationException'),
  InvalidEventPattern: wire('InvalidEventPatternException'),
  LimitExceeded: wire('LimitExceededException'),
  UnknownOperation: wire('UnknownOperationException'),
  Serialization: wire('SerializationException'),
  Internal: wire('InternalException', 500),
} as const;

/** CloudTrail JSON API `__type`s (LookupEvents). */
export const CloudTrailCodes = {
  InvalidLookupAttributes: wire('InvalidLookupAttributesException'),
  InvalidTimeRange: wire('InvalidTimeRangeException'),
  InvalidMaxResults: wire('InvalidMaxResultsException'),
  InvalidNextToken: wire('InvalidNextTokenException'),
  InvalidEventCategory: wire('InvalidEventCategoryException'),
  UnknownOperation: wire('UnknownOperationException'),
  Serialization: wire('SerializationException'),
  AccessDenied: wire('AccessDeniedException'),
} as const;

/** Secrets Manager JSON API `__type`s. */
export const SecretsCodes = {
  ResourceNotFound: wire('ResourceNotFoundException'),
  ResourceExists: wire('ResourceExistsException'),
  InvalidParameter: wire('InvalidParameterException'),
  InvalidRequest: wire('InvalidRequestException'),
  InvalidNextToken: wire('InvalidNextTokenException'),
  LimitExceeded: wire('LimitExceededException'),
  DecryptionFailure: wire('DecryptionFailure'),
  EncryptionFailure: wire('EncryptionFailure'),
  AccessDenied: wire('AccessDeniedException'),
  Validation: wire('ValidationException'),
  Serialization: wire('SerializationException'),
  UnknownOperation: wire('UnknownOperationException'),
  Internal: wire('InternalServiceError', 500),
} as const;

/** ECR pull-through cache `__type`s (its rules API; the pull path answers with `Codes`). */
export const PullThroughCodes = {
  RuleAlreadyExists: wire('PullThroughCacheRuleAlreadyExistsException'),
  RuleNotFound: wire('PullThroughCacheRuleNotFoundException'),
  UnsupportedUpstreamRegistry: wire('UnsupportedUpstreamRegistryException'),
  SecretNotFound: wire('SecretNotFoundException'),
  UnableToAccessSecret: wire('UnableToAccessSecretException'),
  UnableToDecryptSecretValue: wire('UnableToDecryptSecretValueException'),
  LimitExceeded: wire('LimitExceededException'),
  InvalidParameter: wire('InvalidParameterException'),
} as const;

/**
 * The web console's own API (/console/api, docs/console-api.md): sign-in and session refusals.
 * Its ECR and IAM calls answer with those services' own codes.
 */
export const ConsoleCodes = {
  /** Any wrong part of sign-in credentials: one answer, so nothing says which part was wrong. */
  InvalidCredentials: wire('InvalidCredentials', 401),
  NotSignedIn: wire('NotSignedIn', 401),
  InvalidCsrfToken: wire('InvalidCsrfToken', 403),
  PasswordResetRequired: wire('PasswordResetRequired', 403),
  Throttling: wire('ThrottlingException', 429),
  Validation: wire('ValidationException'),
  NotFound: wire('NotFound', 404),
  MethodNotAllowed: wire('MethodNotAllowed', 405),
  Internal: wire('InternalFailure', 500),
} as const;
