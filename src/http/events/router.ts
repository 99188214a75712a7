/**
 * The EventBridge JSON 1.1 API (`X-Amz-Target: AWSEvents.<Op>`, SigV4 service `events`) on the
 * same endpoint, so `aws events` manages the rules that route Berth's events to webhooks.
 * Authorized as `events:<Op>` on the rule, connection or API destination ARN, by the same
 * identity policies as every other door (the account root may do anything in its account).
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../../auth/errors.js';
import type { Principal } from '../../auth/principal.js';
import { EventsCodes } from '../../core/errors.js';
import { isEventsError } from '../../events/errors.js';
import type { EventBridgeService } from '../../events/service.js';
import { noteDenied, noteOperation, REQUEST_ID_HEADER, requestIdOf } from '../request-facts.js';
import type { Authenticator } from '../authn.js';
import { EcrError, sendEcrError } from '../ecr/protocol.js';
import { isJsonApiRequest } from '../ecr/router.js';
import { readBody } from '../request.js';
import { eventsRequestKeys } from '../condition-keys/events.js';
import { requestOrigin } from '../condition-keys/global.js';
import type { KmsAuthzTarget } from '../kms/authz.js';
import { EVENTS_SERVICE } from './target-role.js';
import { ACTIONS, type EventsCall } from './actions.js';

export const EVENTS_TARGET_PREFIX = 'AWSEvents.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 256 * 1024;

/** Decides `events:<Op>` on a resource for a principal; rejects with AccessDeniedException. */
export interface EventsAuthorizer {
  check(principal: Principal, target: KmsAuthzTarget): Promise<void>;
}

export interface EventsRouterOptions {
  authenticator: Authenticator;
  log: Logger;
  region: string;
  events?: { service: EventBridgeService; authorizer: EventsAuthorizer };
}

export function isEventsRequest(req: IncomingMessage): boolean {
  return isJsonApiRequest(req, EVENTS_TARGET_PREFIX);
}

export async function routeEvents(opts: EventsRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const op = String(req.headers['x-amz-target']).slice(EVENTS_TARGET_PREFIX.length);
    const action = Object.hasOwn(ACTIONS, op) ? ACTIONS[op] : undefined;
    if (!action) throw new EcrError(EventsCodes.UnknownOperation, `Unknown operation ${op.slice(0, 100)}`);
    noteOperation(req, 'events', op);
    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw new EcrError(EventsCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => new EcrError(EventsCodes.Serialization, m));
    noteOperation(req, 'events', op, { params: body as Record<string, unknown> });
    const { principal } = await opts.authenticator.signed(req, raw, ['events'], [opts.region]);
    if (!opts.events) throw new EcrError(EventsCodes.UnknownOperation, 'This Berth server does not serve the EventBridge API');
    const { service, authorizer } = opts.events;
    const origin = requestOrigin(req);
    const context = eventsRequestKeys(op, body as Record<string, unknown>, principal.accountId);
    const call: EventsCall = {
      events: service,
      body: body as Record<string, unknown>,
      scope: { accountId: principal.accountId, region: opts.region },
      authorize: (resource) =>
        authorizer.check(principal, { action: `events:${op}`, resource, origin, region: opts.region, context }).catch((e: unknown) => {
          if (e instanceof EcrError) noteDenied(req, `events:${op}`, resource);
          throw e;
        }),
      passRole: (roleArn) =>
        authorizer
          .check(principal, { action: 'iam:PassRole', resource: roleArn, origin, region: opts.region, context: { 'iam:PassedToService': EVENTS_SERVICE } })
          .catch((e: unknown) => {
            if (e instanceof EcrError) noteDenied(req, 'iam:PassRole', roleArn);
            throw e;
          }),
    };
    sendJson(res, await action(call));
  } catch (err) {
    let wire: unknown = err;
    if (isEventsError(err)) wire = new EcrError(err.wire, err.message);
    else if (!(err instanceof EcrError) && !isAuthError(err)) {
      opts.log.error({ err, target: req.headers['x-amz-target'] }, 'events request failed');
      wire = new EcrError(EventsCodes.Internal, 'An internal error occurred');
    }
    await sendEcrError(req, res, wire, opts.log);
  }
}

function sendJson(res: ServerResponse, value: unknown): void {
  // Dates as epoch seconds, as the AWS JSON protocol writes timestamps.
  const body = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    return original instanceof Date ? original.getTime() / 1000 : v;
  });
  res.writeHead(200, { 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestIdOf(res) });
  res.end(body);
}
