/**
 * Authentication failures. One neutral `reason` per failure, rendered three ways because the same
 * failure has different names on each front door: the ECR JSON API (`__type`, mostly 400), the
 * IAM/STS Query API (`<Code>`, mostly 403) and /v2 (401 UNAUTHORIZED with a Basic challenge).
 * The names are the ones AWS answers with, so SDKs recognise them (e.g. clock-skew correction
 * keys on InvalidSignatureException / SignatureDoesNotMatch).
 */

export type AuthReason =
  | 'MissingAuthentication'
  | 'IncompleteSignature'
  | 'SignatureMismatch'
  | 'SignatureExpired'
  | 'RequestExpired'
  | 'InvalidScope'
  | 'UnrecognizedClient'
  | 'ExpiredToken'
  | 'InvalidLoginToken'
  | 'ExpiredLoginToken';

/** `__type` values of the AWS JSON protocol (ECR). */
export type JsonAuthErrorCode =
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'ExpiredTokenException';

/** `<Code>` values of the AWS Query protocol (IAM, STS). */
export type QueryAuthErrorCode =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'SignatureDoesNotMatch'
  | 'RequestExpired'
  | 'InvalidClientTokenId'
  | 'ExpiredToken';

export interface WireError<C extends string> {
  readonly code: C;
  readonly status: number;
}

interface Rendering {
  json: WireError<JsonAuthErrorCode>;
  query: WireError<QueryAuthErrorCode>;
}

const RENDERINGS: Record<AuthReason, Rendering> = {
  MissingAuthentication: {
    json: { code: 'MissingAuthenticationTokenException', status: 403 },
    query: { code: 'MissingAuthenticationToken', status: 403 },
  },
  IncompleteSignature: {
    json: { code: 'IncompleteSignatureException', status: 400 },
    query: { code: 'IncompleteSignature', status: 400 },
  },
  SignatureMismatch: {
    json: { code: 'InvalidSignatureException', status: 400 },
    query: { code: 'SignatureDoesNotMatch', status: 403 },
  },
  // AWS reports clock skew as a signature error ("Signature expired: ..."), not RequestExpired.
  SignatureExpired: {
    json: { code: 'InvalidSignatureException', status: 400 },
    query: { code: 'SignatureDoesNotMatch', status: 403 },
  },
  // A presigned request used after its X-Amz-Expires.
  RequestExpired: {
    json: { code: 'InvalidSignatureException', status: 400 },
    query: { code: 'RequestExpired', status: 400 },
  },
  InvalidScope: {
    json: { code: 'InvalidSignatureException', status: 400 },
    query: { code: 'SignatureDoesNotMatch', status: 403 },
  },
  UnrecognizedClient: {
    json: { code: 'UnrecognizedClientException', status: 400 },
    query: { code: 'InvalidClientTokenId', status: 403 },
  },
  ExpiredToken: {
    json: { code: 'ExpiredTokenException', status: 400 },
    query: { code: 'ExpiredToken', status: 403 },
  },
  // Login tokens only travel over /v2 Basic auth; the AWS renderings are for completeness.
  InvalidLoginToken: {
    json: { code: 'UnrecognizedClientException', status: 400 },
    query: { code: 'InvalidClientTokenId', status: 403 },
  },
  ExpiredLoginToken: {
    json: { code: 'ExpiredTokenException', status: 400 },
    query: { code: 'ExpiredToken', status: 403 },
  },
};

export class AuthError extends Error {
  /** The ECR JSON `__type`. */
  readonly code: JsonAuthErrorCode;
  /** The HTTP status on the ECR JSON API. */
  readonly status: number;
  /** The IAM/STS Query rendering. */
  readonly query: WireError<QueryAuthErrorCode>;
  /** The /v2 rendering: always 401 UNAUTHORIZED, so a client re-authenticates. */
  readonly oci: WireError<'UNAUTHORIZED'> = { code: 'UNAUTHORIZED', status: 401 };

  constructor(
    readonly reason: AuthReason,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
    const r = RENDERINGS[reason];
    this.code = r.json.code;
    this.status = r.json.status;
    this.query = r.query;
  }
}

export function isAuthError(e: unknown): e is AuthError {
  return e instanceof AuthError;
}

/** AWS's message for an unknown access key (both protocols). */
export const UNRECOGNIZED_CLIENT_MESSAGE = 'The security token included in the request is invalid.';
