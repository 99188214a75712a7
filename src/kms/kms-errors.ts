/**
 * Failures of Berth's KMS keys, named twice: by the catalogue code ECR and /v2 render
 * (KmsException, InvalidParameterException, as ECR passes KMS's refusals on), and by KMS's own
 * exception name, which the KMS API renders as `__type`. One error reads right on every front
 * door; nothing is told apart by its message.
 */
import { Codes, KmsCodes, RegistryError, type ErrorCode, type WireCode } from '../core/errors.js';
import type { KmsKeyRecord } from '../metadata/types.js';

export class KmsKeyError extends RegistryError {
  constructor(
    /** The KMS name, a `KmsCodes` entry. */
    readonly kms: WireCode,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }

  get kmsType(): string {
    return this.kms.code;
  }
}

/** A refusal to use or find a key: ECR's KmsException. */
export const kmsError = (type: WireCode, message: string): KmsKeyError => new KmsKeyError(type, Codes.KmsException, message);

/** A malformed request (an alias name, a description): ECR's InvalidParameterException. */
export const kmsInvalid = (type: WireCode, message: string): KmsKeyError => new KmsKeyError(type, Codes.InvalidParameter, message);

export function isKmsKeyError(e: unknown): e is KmsKeyError {
  return e instanceof KmsKeyError;
}

// KMS's own wording, which ECR passes on.
export const keyNotFound = (arn: string): KmsKeyError => kmsError(KmsCodes.NotFound, `Key '${arn}' does not exist`);
export const aliasNotFound = (arn: string): KmsKeyError => kmsError(KmsCodes.NotFound, `Alias '${arn}' is not found.`);
export const disabled = (key: KmsKeyRecord): KmsKeyError => kmsError(KmsCodes.Disabled, `${key.arn} is disabled.`);
export const aliasExists = (aliasArn: string): KmsKeyError => kmsError(KmsCodes.AlreadyExists, `An alias with the name ${aliasArn} already exists`);
