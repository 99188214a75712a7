/**
 * CloudTrail's JSON API door (`X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>`
 * as botocore sends it, or `CloudTrail_20131101.<Op>` as the JavaScript SDK does; SigV4 service
 * `cloudtrail`) on the same endpoint, so `aws cloudtrail lookup-events` reads Berth's audit trail.
 * Only LookupEvents is served, authorized as `cloudtrail:LookupEvents` on "*" by the caller's
 * identity policies (the account root may); a caller sees its own account's events only.
 * The rules are in ../../audit/lookup-events.ts; the wire is AWS JSON 1.1, rendered as ECR's is.
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { lookupEvents, LookupEventsError } from '../../audit/lookup-events.js';
import { CloudTrailCodes } from '../../core/errors.js';
import type { AuditStore } from '../../metadata/audit-rows.js';
import type { Authenticator } from '../authn.js';
import { EcrError, sendEcrError, sendEcrJson } from '../ecr/protocol.js';
import { isJsonApiRequest } from '../ecr/router.js';
import type { KmsAuthorizer } from '../kms/authz.js';
import { readBody } from '../request.js';
import { requestOrigin } from '../condition-keys/global.js';
import { noteDenied, noteOperation } from '../request-facts.js';

/** The AWS CLI's (botocore's) target prefix, and the service's short name the JavaScript SDK (v3) uses: CloudTrail takes both. */
const CLOUDTRAIL_TARGET_PREFIXES = ['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', 'CloudTrail_20131101.'];
const MAX_BODY_BYTES = 64 * 1024;

export interface CloudTrailRouterOptions {
  authenticator: Authenticator;
  /** Judges identity policies for a non-ECR action (KMS's authorizer: one IAM evaluation for both). */
  authorizer: KmsAuthorizer;
  log: Logger;
  region: string;
  /** The trail; without it (auditRetentionDays 0) LookupEvents finds nothing. */
  audit?: AuditStore;
}

export function isCloudTrailRequest(req: IncomingMessage): boolean {
  return CLOUDTRAIL_TARGET_PREFIXES.some((prefix) => isJsonApiRequest(req, prefix));
}

export async function routeCloudTrail(opts: CloudTrailRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const target = String(req.headers['x-amz-target']);
    const op = target.slice(CLOUDTRAIL_TARGET_PREFIXES.find((prefix) => target.startsWith(prefix))?.length ?? 0);
    if (op !== 'LookupEvents') throw new EcrError(CloudTrailCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
    noteOperation(req, 'cloudtrail', op);
    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw new EcrError(CloudTrailCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => new EcrError(CloudTrailCodes.Serialization, m));
    const params = body as Record<string, unknown>;
    noteOperation(req, 'cloudtrail', op, { params });
    const { principal } = await opts.authenticator.signed(req, raw, ['cloudtrail'], [opts.region]);
    const action = `cloudtrail:${op}`;
    await opts.authorizer.check(principal, { action, resource: '*', origin: requestOrigin(req), region: opts.region }).catch((e: unknown) => {
      if (e instanceof EcrError) {
        noteDenied(req, action, '*');
        throw new EcrError(CloudTrailCodes.AccessDenied, e.message);
      }
      throw e;
    });
    const out = opts.audit ? await lookupEvents(opts.audit, principal.accountId, params) : { Events: [] };
    sendEcrJson(res, out);
  } catch (err) {
    await sendEcrError(req, res, err instanceof LookupEventsError ? new EcrError(err.code, err.message) : err, opts.log);
  }
}
