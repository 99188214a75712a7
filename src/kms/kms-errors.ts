/**
 * Failures of Berth's KMS keys, named twice: by the catalogue code ECR and /v2 render
 * (KmsException, InvalidParameterException, as ECR passes KMS's refusals on), and by KMS's own
 * exception name, which the KMS API renders as `__type`. One error reads right on every front
 * door; nothing is told apart by its message.
 */
import { Codes, RegistryError, type ErrorCode } from '../core/errors.js';
import type { KmsKeyRecord } from '../metadata/types.js';

export type KmsErrorType =
  | 'NotFoundException'
  | 'DisabledException'
  | 'ValidationException'
  | 'AlreadyExistsException'
  | 'InvalidAliasNameException'
  | 'LimitExceededException'
  | 'AccessDeniedException'
  | 'KMSInvalidStateException'
  | 'InvalidCiphertextException'
  | 'IncorrectKeyException'
  | 'InvalidMarkerException'
  | 'UnsupportedOperationException';

export class KmsKeyError extends RegistryError {
  constructor(
    readonly kmsType: KmsErrorType,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** A refusal to use or find a key: ECR's KmsException. */
export const kmsError = (type: KmsErrorType, message: string): KmsKeyError => new KmsKeyError(type, Codes.KmsException, message);

/** A malformed request (an alias name, a description): ECR's InvalidParameterException. */
export const kmsInvalid = (type: KmsErrorType, message: string): KmsKeyError => new KmsKeyError(type, Codes.InvalidParameter, message);

export function isKmsKeyError(e: unknown): e is KmsKeyError {
  return e instanceof KmsKeyError;
}

// KMS's own wording, which ECR passes on.
export const keyNotFound = (arn: string): KmsKeyError => kmsError('NotFoundException', `Key '${arn}' does not exist`);
export const aliasNotFound = (arn: string): KmsKeyError => kmsError('NotFoundException', `Alias '${arn}' is not found.`);
export const disabled = (key: KmsKeyRecord): KmsKeyError => kmsError('DisabledException', `${key.arn} is disabled.`);
export const aliasExists = (aliasArn: string): KmsKeyError => kmsError('AlreadyExistsException', `An alias with the name ${aliasArn} already exists`);
