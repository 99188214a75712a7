/**
 * Dispatches an AWS KMS JSON API request (`X-Amz-Target: TrentService.<Op>`, SigV4 service
 * `kms`) to its action, over the KMS keys Berth keeps, so `aws kms`, `@aws-sdk/client-kms`,
 * Terraform and another Berth node (kmsProvider 'aws') can use Berth as their KMS.
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { KmsCodes } from '../../core/errors.js';
import type { KmsService } from '../../kms/kms-service.js';
import type { Authenticator } from '../authn.js';
import { noteDenied, noteOperation } from '../request-facts.js';
import { EcrError } from '../ecr/protocol.js';
import { isJsonApiRequest } from '../ecr/router.js';
import { readBody } from '../request.js';
import { requestOrigin } from '../condition-keys/global.js';
import { kmsKeyResourceKeys, kmsRequestKeys } from '../condition-keys/kms.js';
import { CreateAlias, DeleteAlias, ListAliases } from './actions/aliases.js';
import { Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext } from './actions/crypto.js';
import { GetKeyPolicy, GetKeyRotationStatus, ListResourceTags } from './actions/key-info.js';
import { CreateKey, DescribeKey, DisableKey, EnableKey, ListKeys } from './actions/keys.js';
import type { KmsAuthorizer } from './authz.js';
import { managedKeyPolicy } from './managed-key-policy.js';
import { VIA_SERVICE_HEADER, type ViaServiceRequest } from '../../auth/via-service.js';
import type { KmsAction, KmsCall } from './context.js';
import { KMS_TARGET_PREFIX, kmsWireError, sendKmsError, sendKmsJson } from './protocol.js';

/** KMS bodies are small: a 4 KiB plaintext or 6 KiB ciphertext in base64, a 128 KiB policy, a 256 KiB attestation document (base64: 342 KiB). */
const MAX_BODY_BYTES = 512 * 1024;

/** The operations Berth serves (the model-constraint test reads them). */
export const KMS_ACTIONS: Record<string, KmsAction> = {
  CreateKey,
  DescribeKey,
  ListKeys,
  EnableKey,
  DisableKey,
  GetKeyPolicy,
  GetKeyRotationStatus,
  ListResourceTags,
  CreateAlias,
  DeleteAlias,
  ListAliases,
  Encrypt,
  Decrypt,
  GenerateDataKey,
  GenerateDataKeyWithoutPlaintext,
};

export interface KmsRouterOptions {
  authenticator: Authenticator;
  log: Logger;
  /** The region whose keys this deployment serves; signatures for any other are refused. */
  region: string;
  /**
   * The keys and who may use them; without them every operation is refused. `viaService`: the
   * service (`ecr`) a request proves it comes through (auth/via-service.ts), which sets
   * kms:ViaService; unset, or undefined for a request, it is a direct call.
   */
  kms?: { service: KmsService; authorizer: KmsAuthorizer; viaService?: (header: string | undefined, req: ViaServiceRequest) => string | undefined };
}

export function isKmsRequest(req: IncomingMessage): boolean {
  return isJsonApiRequest(req, KMS_TARGET_PREFIX);
}

export async function routeKms(opts: KmsRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const op = String(req.headers['x-amz-target']).slice(KMS_TARGET_PREFIX.length);
    const action = Object.hasOwn(KMS_ACTIONS, op) ? KMS_ACTIONS[op] : undefined;
    if (!action) throw kmsWireError(KmsCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
    noteOperation(req, 'kms', op);
    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw kmsWireError(KmsCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => kmsWireError(KmsCodes.Serialization, m));
    noteOperation(req, 'kms', op, { params: body as Record<string, unknown> });
    const region = opts.region;
    const { principal } = await opts.authenticator.signed(req, raw, ['kms'], [region]);
    if (!opts.kms) throw kmsWireError(KmsCodes.UnsupportedOperation, 'This Berth server does not serve the KMS API');
    const { service, authorizer } = opts.kms;
    const origin = requestOrigin(req);
    const header = req.headers[VIA_SERVICE_HEADER];
    const via = opts.kms.viaService?.(typeof header === 'string' ? header : undefined, { operation: op, region, body: raw });
    const call: KmsCall = {
      kms: service,
      body: body as Record<string, unknown>,
      principal,
      accountId: principal.accountId,
      region,
      authorize: (target, context) => {
        const resource = typeof target === 'string' ? target : target.arn;
        const keys = {
          ...kmsRequestKeys(op, body as Record<string, unknown>, principal),
          ...(via !== undefined && { 'kms:ViaService': `${via}.${region}.amazonaws.com` }),
          ...(typeof target !== 'string' && kmsKeyResourceKeys(target)),
          ...context,
        };
        const keyPolicy = typeof target === 'string' ? undefined : managedKeyPolicy(target);
        return authorizer
          .check(principal, { action: `kms:${op}`, resource, origin, region, context: keys, ...(keyPolicy && { keyPolicy }) })
          .catch((e: unknown) => {
            if (e instanceof EcrError && e.type === 'AccessDeniedException') noteDenied(req, `kms:${op}`, resource);
            throw e;
          });
      },
    };
    sendKmsJson(res, await action(call));
  } catch (err) {
    await sendKmsError(req, res, err, opts.log);
  }
}
