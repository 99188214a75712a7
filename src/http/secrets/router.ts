/**
 * The Secrets Manager JSON 1.1 API (`X-Amz-Target: secretsmanager.<Op>`, SigV4 service
 * `secretsmanager`) on the same endpoint, so `aws secretsmanager` keeps the upstream credentials
 * of pull-through cache rules. Authorized as `secretsmanager:<Op>` on the secret's ARN by the
 * same identity policies as every other door. Secret values never reach the request's recorded
 * parameters (the audit trail) nor the logs.
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../../auth/errors.js';
import type { Principal } from '../../auth/principal.js';
import { SecretsCodes } from '../../core/errors.js';
import { isSecretsError } from '../../secrets/errors.js';
import type { SecretsService } from '../../secrets/secrets.js';
import { noteDenied, noteOperation } from '../request-facts.js';
import type { Authenticator } from '../authn.js';
import { EcrError, sendEcrError, sendEcrJson } from '../ecr/protocol.js';
import { isJsonApiRequest } from '../ecr/router.js';
import { readBody } from '../request.js';
import { requestOrigin } from '../condition-keys/global.js';
import { secretResourceKeys, secretsKmsKeyArn, secretsRequestKeys } from '../condition-keys/secrets.js';
import type { KmsAuthzTarget } from '../kms/authz.js';
import type { KmsKeyRecord } from '../../metadata/types.js';
import { ACTIONS, type SecretsCall } from './actions.js';
import { secretKeyUse } from './key-use.js';

export const SECRETS_TARGET_PREFIX = 'secretsmanager.';
/** A 64 KiB value, base64-encoded, with room for the rest. */
const MAX_BODY_BYTES = 256 * 1024;

/** Decides `secretsmanager:<Op>` on a resource for a principal, and `kms:<Op>` on a secret's key; rejects with AccessDeniedException. */
export interface SecretsAuthorizer {
  check(principal: Principal, target: KmsAuthzTarget): Promise<void>;
}

export interface SecretsRouterOptions {
  authenticator: Authenticator;
  log: Logger;
  region: string;
  secrets?: {
    service: SecretsService;
    authorizer: SecretsAuthorizer;
    /**
     * The KMS key `keyRef` names in the account (id, ARN, alias), for secretsmanager:KmsKeyArn and
     * for the caller's use of a secret's key (key-use.ts); undefined when it names none.
     */
    findKey: (accountId: string, keyRef: string) => Promise<KmsKeyRecord | undefined>;
  };
}

export function isSecretsRequest(req: IncomingMessage): boolean {
  return isJsonApiRequest(req, SECRETS_TARGET_PREFIX);
}

/** The parameters kept for the audit trail: everything but the values. */
function recordedParams(body: Record<string, unknown>): Record<string, unknown> {
  const { SecretString: _s, SecretBinary: _b, ...rest } = body;
  return rest;
}

export async function routeSecrets(opts: SecretsRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const op = String(req.headers['x-amz-target']).slice(SECRETS_TARGET_PREFIX.length);
    const action = Object.hasOwn(ACTIONS, op) ? ACTIONS[op] : undefined;
    if (!action) throw new EcrError(SecretsCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
    noteOperation(req, 'secretsmanager', op);
    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw new EcrError(SecretsCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => new EcrError(SecretsCodes.Serialization, m));
    noteOperation(req, 'secretsmanager', op, { params: recordedParams(body as Record<string, unknown>) });
    const { principal } = await opts.authenticator.signed(req, raw, ['secretsmanager'], [opts.region]);
    if (!opts.secrets) throw new EcrError(SecretsCodes.UnknownOperation, 'This Berth server does not serve the Secrets Manager API');
    const { service, authorizer, findKey } = opts.secrets;
    const origin = requestOrigin(req);
    const call: SecretsCall = {
      secrets: service,
      body: body as Record<string, unknown>,
      scope: { accountId: principal.accountId, region: opts.region },
      authorize: async (target) => {
        const resource = typeof target === 'string' ? target : target.ARN;
        const context = {
          ...secretsRequestKeys(op, body as Record<string, unknown>),
          ...(await secretsKmsKeyArn(op, body as Record<string, unknown>, async (ref) => (await findKey(principal.accountId, ref))?.arn)),
          ...(resource !== '*' && secretResourceKeys(typeof target === 'string' ? { ARN: target } : target, opts.region)),
        };
        return authorizer.check(principal, { action: `secretsmanager:${op}`, resource, origin, region: opts.region, context }).catch((e: unknown) => {
          if (e instanceof EcrError) noteDenied(req, `secretsmanager:${op}`, resource);
          throw e;
        });
      },
      callKms: secretKeyUse({ authorizer, findKey }, principal, opts.region, origin, (action, resource) => noteDenied(req, action, resource)),
    };
    sendEcrJson(res, await action(call));
  } catch (err) {
    let wire: unknown = err;
    if (isSecretsError(err)) wire = new EcrError(err.wire, err.message);
    else if (!(err instanceof EcrError) && !isAuthError(err)) {
      // Never the error object itself: a sealing failure's message could quote nothing, but its cause might.
      opts.log.error({ target: req.headers['x-amz-target'], error: err instanceof Error ? err.name : 'unknown' }, 'secretsmanager request failed');
      wire = new EcrError(SecretsCodes.Internal, 'An internal error occurred');
    }
    await sendEcrError(req, res, wire, opts.log);
  }
}
