/**
 * The AWS KMS JSON 1.1 wire: `POST /` with `X-Amz-Target: TrentService.<Op>`, SigV4 service
 * `kms`. Answers are JSON with epoch-second timestamps and blobs (Plaintext, CiphertextBlob) in
 * base64; errors are `{"__type", "message"}` with KMS's exception names, 400 for every client
 * error and 500 only for a fault (SDKs retry 5xx). Rendering is ECR's (../ecr/protocol.ts):
 * one AWS JSON protocol, two services.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER, requestIdOf } from '../request-facts.js';
import { isAuthError } from '../../auth/errors.js';
import { KmsCodes, type WireCode } from '../../core/errors.js';
import { isKmsKeyError } from '../../kms/kms-errors.js';
import { EcrError, sendEcrError } from '../ecr/protocol.js';

export const KMS_TARGET_PREFIX = 'TrentService.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** An error as KMS names it: `type` is a `KmsCodes` entry (NotFoundException, ValidationException, ...). */
export const kmsWireError = (type: WireCode, message: string): EcrError => new EcrError(type, message);

export function sendKmsJson(res: ServerResponse, value: unknown): void {
  // The replacer sees Dates and Buffers already turned by their toJSON; `this[key]` is the original.
  const body = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    if (original instanceof Date) return original.getTime() / 1000;
    if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
    return v;
  });
  res.writeHead(200, {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestIdOf(res),
  });
  res.end(body);
}

/**
 * Renders any error of a KMS request: KMS key errors by their KMS name, authentication errors as
 * for ECR; anything else is a fault, logged and answered KMSInternalException without detail.
 */
export async function sendKmsError(req: IncomingMessage, res: ServerResponse, err: unknown, log: Logger): Promise<void> {
  let wire: unknown;
  if (err instanceof EcrError || isAuthError(err)) {
    wire = err;
  } else if (isKmsKeyError(err)) {
    wire = kmsWireError(err.kms, err.message);
  } else {
    log.error({ err, target: req.headers['x-amz-target'] }, 'kms request failed');
    wire = kmsWireError(KmsCodes.Internal, 'An internal error occurred');
  }
  await sendEcrError(req, res, wire, log);
}
