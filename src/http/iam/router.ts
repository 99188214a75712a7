/** Dispatches an IAM or STS Query request, after verifying its signature, to its action. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isAuthError } from '../../auth/errors.js';
import { IdentityError, type IdentityAdmin } from '../../auth/identity-admin.js';
import { noteDenied } from '../access-log.js';
import type { Authenticator } from '../authn.js';
import { readBody } from '../request.js';
import { iamActions, stsActions, type QueryCall } from './actions.js';
import { IAM_NAMESPACE, QueryError, STS_NAMESPACE, parseForm, sendQueryError, sendQueryResult } from './query.js';

const IDENTITY_STATUS: Record<IdentityError['code'], number> = {
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  DeleteConflict: 409,
  ValidationError: 400,
  LimitExceeded: 409,
  MalformedPolicyDocument: 400,
};

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
      throw new QueryError('ValidationError', 'request body is too large');
    });
    const { principal, service } = await opts.authenticator.signed(req, body, ['iam', 'sts']);
    const form = parseForm(body);
    const actions = service === 'sts' ? stsActions : iamActions;
    if (service === 'sts') namespace = STS_NAMESPACE;
    const name = form.get('Action') ?? '';
    const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
    if (!action) throw new QueryError('InvalidAction', `Could not find operation ${name.slice(0, 100)} for version ${form.get('Version') ?? ''}`);
    // Managing identities is the account root's business until IAM actions go through policies.
    if (service === 'iam' && principal.kind !== 'root') {
      noteDenied(req, `iam:${name}`, '*');
      throw new QueryError('AccessDenied', `User: ${principal.arn} is not authorized to perform: iam:${name}`, 403);
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
    if (err instanceof QueryError) sendQueryError(res, namespace, err);
    else if (err instanceof IdentityError) sendQueryError(res, namespace, new QueryError(err.code, err.message, IDENTITY_STATUS[err.code]));
    else if (isAuthError(err)) sendQueryError(res, namespace, new QueryError(err.query.code, err.message, err.query.status));
    else {
      opts.log.error({ err }, 'query request failed');
      sendQueryError(res, namespace, new QueryError('ServiceFailure', 'An internal error occurred', 500));
    }
  }
}
