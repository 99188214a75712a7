/** Dispatches an IAM or STS Query request, after verifying its signature, to its action. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../../auth/errors.js';
import { IamCodes } from '../../core/errors.js';
import { parseAuthorization, splitUrl } from '../../auth/sigv4.js';
import { IdentityError, type IdentityAdmin } from '../../auth/identity-admin.js';
import { noteDenied, noteError, noteOperation } from '../request-facts.js';
import type { Authenticator } from '../authn.js';
import { readBody } from '../request.js';
import { iamActions, stsActions, type QueryCall } from './actions.js';
import { IAM_NAMESPACE, QueryError, STS_NAMESPACE, parseForm, sendQueryError, sendQueryResult } from './query.js';

export interface QueryRouterOptions {
  authenticator: Authenticator;
  identities: IdentityAdmin;
  log: Logger;
  checkPolicy: QueryCall['checkPolicy'];
  isManagedPolicy: QueryCall['isManagedPolicy'];
}

export async function routeQuery(opts: QueryRouterOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let namespace = IAM_NAMESPACE;
  try {
    const body = await readBody(req, 1024 * 1024).catch(() => {
      throw new QueryError(IamCodes.Validation, 'request body is too large');
    });
    const form = parseForm(body);
    rejectUnservedService(req, form);
    const { principal, service } = await opts.authenticator.signed(req, body, ['iam', 'sts']);
    const actions = service === 'sts' ? stsActions : iamActions;
    if (service === 'sts') namespace = STS_NAMESPACE;
    const name = form.get('Action') ?? '';
    noteOperation(req, service === 'sts' ? 'sts' : 'iam', name.slice(0, 100), { params: Object.fromEntries(form) });
    const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
    if (!action) throw new QueryError(IamCodes.InvalidAction, `Could not find operation ${name.slice(0, 100)} for version ${form.get('Version') ?? ''}`);
    // Managing identities is the account root's business until IAM actions go through policies.
    if (service === 'iam' && principal.kind !== 'root') {
      noteDenied(req, `iam:${name}`, '*');
      throw new QueryError(IamCodes.AccessDenied, `User: ${principal.arn} is not authorized to perform: iam:${name}`);
    }
    const result = await action({
      form,
      accountId: principal.accountId,
      callerArn: principal.arn,
      ...(principal.userName !== undefined && { callerUserName: principal.userName }),
      identities: opts.identities,
      checkPolicy: opts.checkPolicy,
      isManagedPolicy: opts.isManagedPolicy,
    });
    sendQueryResult(res, name, namespace, result);
  } catch (err) {
    let wire: QueryError;
    if (err instanceof QueryError) wire = err;
    else if (err instanceof IdentityError) wire = new QueryError(err.code, err.message);
    else if (isAuthError(err)) wire = new QueryError(err.query, err.message);
    else {
      opts.log.error({ err }, 'query request failed');
      wire = new QueryError(IamCodes.ServiceFailure, 'An internal error occurred');
    }
    noteError(req, wire.code, wire.message);
    sendQueryError(res, namespace, wire);
  }
}

const QUERY_SERVICES = new Set(['iam', 'sts']);

/**
 * A Query request signed for a service Berth does not serve (`aws ec2 ...`): answered as AWS
 * answers an action it does not know, from the signature's scope and before verifying it, as
 * no service list could match and a signature error would send the caller looking for a bad key.
 * An unreadable Authorization is left to the verifier to name.
 */
function rejectUnservedService(req: IncomingMessage, form: URLSearchParams): void {
  let service: string;
  try {
    service = parseAuthorization({ headers: req.headers, rawQuery: splitUrl(req.url ?? '/').rawQuery }).service;
  } catch {
    return;
  }
  if (!QUERY_SERVICES.has(service)) {
    throw new QueryError(IamCodes.InvalidAction, `The action ${(form.get('Action') ?? '').slice(0, 100)} is not valid for this web service.`);
  }
}
