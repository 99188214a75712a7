/**
 * Authentication failures. One neutral `reason` per failure, rendered three ways because the same
 * failure has different names on each front door: the ECR JSON API (`__type`, mostly 400), the
 * IAM/STS Query API (`<Code>`, mostly 403) and /v2 (401 UNAUTHORIZED with a Basic challenge).
 * The names are the ones AWS answers with, so SDKs recognise them (e.g. clock-skew correction
 * keys on InvalidSignatureException / SignatureDoesNotMatch).
 */
import { Codes, EcrCodes, ecrWire, IamCodes, type WireCode } from '../core/errors.js';

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

interface Rendering {
  /** On the AWS JSON protocol (ECR, KMS): from `EcrCodes` or `Codes`. */
  json: WireCode;
  /** On the AWS Query protocol (IAM, STS): an `IamCodes` entry. */
  query: WireCode;
}

/** Codes.Unauthorized's ECR rendering. */
const UNRECOGNIZED_CLIENT = ecrWire(Codes.Unauthorized);

const RENDERINGS: Record<AuthReason, Rendering> = {
  MissingAuthentication: { json: EcrCodes.MissingAuthenticationToken, query: IamCodes.MissingAuthenticationToken },
  IncompleteSignature: { json: EcrCodes.IncompleteSignature, query: IamCodes.IncompleteSignature },
  SignatureMismatch: { json: EcrCodes.InvalidSignature, query: IamCodes.SignatureDoesNotMatch },
  // AWS reports clock skew as a signature error ("Signature expired: ..."), not RequestExpired.
  SignatureExpired: { json: EcrCodes.InvalidSignature, query: IamCodes.SignatureDoesNotMatch },
  // A presigned request used after its X-Amz-Expires.
  RequestExpired: { json: EcrCodes.InvalidSignature, query: IamCodes.RequestExpired },
  InvalidScope: { json: EcrCodes.InvalidSignature, query: IamCodes.SignatureDoesNotMatch },
  UnrecognizedClient: { json: UNRECOGNIZED_CLIENT, query: IamCodes.InvalidClientTokenId },
  ExpiredToken: { json: EcrCodes.ExpiredToken, query: IamCodes.ExpiredToken },
  // Login tokens only travel over /v2 Basic auth; the AWS renderings are for completeness.
  InvalidLoginToken: { json: UNRECOGNIZED_CLIENT, query: IamCodes.InvalidClientTokenId },
  ExpiredLoginToken: { json: EcrCodes.ExpiredToken, query: IamCodes.ExpiredToken },
};

export class AuthError extends Error {
  /** The ECR JSON `__type`. */
  readonly code: string;
  /** The HTTP status on the ECR JSON API. */
  readonly status: number;
  /** The IAM/STS Query rendering. */
  readonly query: WireCode;
  /** The /v2 rendering: always 401 UNAUTHORIZED, so a client re-authenticates. */
  readonly oci: WireCode = { code: Codes.Unauthorized.oci, status: Codes.Unauthorized.status };

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
