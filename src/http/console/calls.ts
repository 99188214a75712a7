/**
 * ECR's and IAM's actions run as the console's signed-in principal: the body is the action's
 * own (ECR's JSON, IAM's Query form), handed to the same code the signed APIs run after their
 * signature check (runJsonApiCall, runQueryAction), so authorization, throttling, validation
 * and the audit trail are identical. ECR's answers go back as ECR sends them; IAM's result as
 * JSON (the members IAM's XML result holds). `can` answers with the same authorizers.
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../auth/principal.js';
import { ConsoleCodes, EcrCodes, IamCodes } from '../../core/errors.js';
import { REGISTRY_LEVEL_ACTIONS } from '../../iam/oci-actions.js';
import { AccessDenied } from '../authz.js';
import { ECR_API, runJsonApiCall } from '../ecr/router.js';
import { ECR_TARGET_PREFIX, EcrError, sendEcrError, sendEcrJson } from '../ecr/protocol.js';
import { iamAllowed, queryErrorOf, runQueryAction } from '../iam/router.js';
import { requestOrigin } from '../condition-keys/global.js';
import { QueryError, type XmlValue } from '../iam/query.js';
import { noteError } from '../request-facts.js';
import { readBody } from '../request.js';
import type { ConsoleDoor } from './door.js';
import { ConsoleError, sendConsoleJson, sessionCookie } from './responses.js';

/** No layer uploads through the console: its ECR calls are small. */
const MAX_ECR_BYTES = 1024 * 1024;
const MAX_IAM_BYTES = 64 * 1024;
const MAX_CHECKS = 100;

export async function ecrCall(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
  try {
    const target = req.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(ECR_TARGET_PREFIX)) {
      throw new EcrError(EcrCodes.UnknownOperation, `X-Amz-Target must be ${ECR_TARGET_PREFIX}<Operation>`);
    }
    const raw = await readBody(req, MAX_ECR_BYTES).catch(() => {
      throw new EcrError(EcrCodes.Serialization, 'request body is too large');
    });
    const body = jsonObjectBody(raw, (m) => new EcrError(EcrCodes.Serialization, m));
    const op = target.slice(ECR_TARGET_PREFIX.length);
    sendEcrJson(res, await runJsonApiCall(ECR_API, door.ecr, req, principal, op, body as Record<string, unknown>));
  } catch (err) {
    await sendEcrError(req, res, err, door.log);
  }
}

export async function iamCall(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
  try {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      throw new QueryError(IamCodes.Validation, 'The body must be an IAM Query form (application/x-www-form-urlencoded).');
    }
    const raw = await readBody(req, MAX_IAM_BYTES).catch(() => {
      throw new QueryError(IamCodes.Validation, 'request body is too large');
    });
    const form = new URLSearchParams(raw.toString('utf8'));
    const action = form.get('Action') ?? '';
    const result = await runQueryAction(door.iam, req, principal, 'iam', action, form);
    if (action === 'ChangePassword' && principal.userName !== undefined) {
      // The user's own session goes on with the new password; the user's other password sessions end.
      const stamp = await door.identities.loginProfiles?.stamp(principal.accountId, principal.userName);
      if (stamp !== undefined) await door.sessions.keepThroughPasswordChange(sessionCookie(req), stamp);
    }
    sendConsoleJson(res, 200, result === undefined ? {} : toJson(result));
  } catch (err) {
    const wire = queryErrorOf(err, door.log);
    noteError(req, wire.code, wire.message);
    sendConsoleJson(res, wire.status, { __type: wire.code, message: wire.message });
  }
}

/** IAM's XML result as JSON: the same members, lists as arrays, times as ISO-8601 (as IAM writes them). */
function toJson(v: XmlValue): unknown {
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).flatMap(([k, x]) => (x === undefined ? [] : [[k, toJson(x)]])));
  }
  return v;
}

interface Check {
  action: string;
  resource?: string;
}

function parseChecks(raw: Buffer): Check[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ConsoleError(ConsoleCodes.Validation, 'The body must be JSON.');
  }
  const checks = (body as { checks?: unknown } | null)?.checks;
  if (!Array.isArray(checks) || checks.length > MAX_CHECKS) throw new ConsoleError(ConsoleCodes.Validation, `checks must be a list of at most ${MAX_CHECKS}.`);
  return checks.map((c: unknown) => {
    const { action, resource } = (c ?? {}) as { action?: unknown; resource?: unknown };
    if (
      typeof action !== 'string' ||
      !/^(ecr|iam):[A-Za-z]{1,64}$/.test(action) ||
      (resource !== undefined && (typeof resource !== 'string' || resource.length > 2048))
    ) {
      throw new ConsoleError(ConsoleCodes.Validation, 'Each check is {"action": "ecr:<Action>" or "iam:<Action>", "resource"?: string}.');
    }
    return { action, ...(resource !== undefined && { resource }) };
  });
}

/** Whether the principal may do each action: the answers the real calls would get from authorization. */
export async function can(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
  const raw = await readBody(req, 256 * 1024).catch(() => {
    throw new ConsoleError(ConsoleCodes.Validation, 'The body is too large.');
  });
  const origin = requestOrigin(req);
  const results = [];
  for (const c of parseChecks(raw)) {
    const [service, name] = c.action.split(':') as [string, string];
    let allowed: boolean;
    if (service === 'iam') allowed = await iamAllowed(door.iam, principal, name, c.resource ?? '*', origin);
    else {
      const repository = REGISTRY_LEVEL_ACTIONS.has(name) ? undefined : (c.resource ?? '*');
      allowed = await door.authorizer
        .check(principal, {
          action: c.action,
          resourceAccountId: principal.accountId,
          region: door.region,
          ...(repository !== undefined && { repository }),
          origin,
        })
        .then(
          () => true,
          (e: unknown) => {
            if (e instanceof AccessDenied) return false;
            throw e;
          },
        );
    }
    results.push({ ...c, allowed });
  }
  sendConsoleJson(res, 200, { results });
}
