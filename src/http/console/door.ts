/**
 * The web console's door (docs/console-api.md): the built app's files under /console/, and its
 * API under /console/api/ — sign-in and sessions, and ECR's and IAM's actions run as the
 * signed-in principal through the same code, authorization and audit as the signed APIs.
 * Every answer carries the security headers; every POST but sign-in needs the CSRF token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ConsoleSessions, OpenSession } from '../../auth/console-sessions.js';
import type { IdentityAdmin } from '../../auth/identity-admin.js';
import type { SignInThrottle } from '../../auth/sign-in-throttle.js';
import type { Clock } from '../../core/clock.js';
import { ConsoleCodes } from '../../core/errors.js';
import type { DailyUsage } from '../../metadata/usage.js';
import type { Authenticator } from '../authn.js';
import type { Authorizer } from '../authz.js';
import type { EcrRouterOptions } from '../ecr/router.js';
import type { QueryRouterOptions } from '../iam/router.js';
import { notePrincipal } from '../request-facts.js';
import { discardBody } from '../request.js';
import { can, ecrCall, iamCall } from './calls.js';
import { ConsoleError, sendConsoleError, sendConsoleJson, sessionCookie, setSecurityHeaders } from './responses.js';
import { sessionBody, signIn, signOut } from './sign-in.js';
import type { ConsoleFiles } from './static-files.js';
import { usage } from './usage.js';

/** What the composition root builds for the console. */
export interface ConsoleOptions {
  files: ConsoleFiles;
  sessions: ConsoleSessions;
  throttle: SignInThrottle;
  /** Daily usage rows of an account's registries (`berth usage`'s source). */
  dailyUsage(from: number, to: number, accountId: string): Promise<DailyUsage[]>;
  clock: Clock;
}

/** The door's view of the server: the console's parts and the doors it calls into. */
export interface ConsoleDoor extends ConsoleOptions {
  authenticator: Authenticator;
  authorizer: Authorizer;
  identities: IdentityAdmin;
  ecr: Omit<EcrRouterOptions, 'authenticator'>;
  iam: Omit<QueryRouterOptions, 'authenticator'> & { authorizer: NonNullable<QueryRouterOptions['authorizer']> };
  region: string;
  registryHost: string | undefined;
  log: Logger;
}

export const CSRF_HEADER = 'x-berth-csrf';

/** Routes `path` (which is `/console` or under `/console/`). */
export async function routeConsole(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  setSecurityHeaders(res);
  if (path === '/console') {
    res.writeHead(301, { Location: '/console/', 'Content-Length': 0 });
    res.end();
    return;
  }
  const sub = path.slice('/console/'.length);
  if (sub === 'api' || sub.startsWith('api/')) {
    await routeApi(door, req, res, sub.slice(4));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 });
    res.end();
    return;
  }
  await door.files.serve(req, res, sub);
}

async function routeApi(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  try {
    const method = req.method ?? 'GET';
    const post = method === 'POST';
    // A browser says where a request comes from: only this origin may call (no CORS is granted).
    const origin = req.headers.origin;
    if (post && origin !== undefined && origin !== 'null' && hostOf(origin) !== (req.headers.host ?? '').toLowerCase()) {
      throw new ConsoleError(ConsoleCodes.InvalidCsrfToken, 'Cross-origin requests are refused.');
    }
    if (name === 'sign-in' && post) return await signIn(door, req, res);
    if (name === 'sign-out' && post) {
      const open = await door.sessions.open(sessionCookie(req));
      if (open) checkCsrf(door, req);
      return await signOut(door, req, res);
    }
    const handlers: Record<string, { method: string; run: (s: OpenSession) => Promise<void> }> = {
      session: { method: 'GET', run: async (s) => sendConsoleJson(res, 200, sessionBody(door, req, s)) },
      ecr: { method: 'POST', run: (s) => ecrCall(door, req, res, s.principal) },
      iam: { method: 'POST', run: (s) => iamCall(door, req, res, s.principal) },
      can: { method: 'POST', run: (s) => can(door, req, res, s.principal) },
      usage: { method: 'GET', run: (s) => usage(door, req, res, s.principal) },
    };
    const h = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (!h && !['sign-in', 'sign-out'].includes(name)) throw new ConsoleError(ConsoleCodes.NotFound, 'No such console API.');
    if (!h || method !== h.method) throw new ConsoleError(ConsoleCodes.MethodNotAllowed, `Use ${h?.method ?? 'POST'}.`);
    const session = await door.sessions.open(sessionCookie(req));
    if (!session) throw new ConsoleError(ConsoleCodes.NotSignedIn, 'Not signed in, or the session has ended.');
    notePrincipal(req, session.principal);
    if (post) checkCsrf(door, req);
    await h.run(session);
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let e: ConsoleError;
    if (err instanceof ConsoleError) e = err;
    else {
      door.log.error({ err }, 'console request failed');
      e = new ConsoleError(ConsoleCodes.Internal, 'An internal error occurred.');
    }
    await discardBody(req);
    sendConsoleError(req, res, e);
  }
}

function checkCsrf(door: ConsoleDoor, req: IncomingMessage): void {
  const token = req.headers[CSRF_HEADER];
  const id = sessionCookie(req);
  if (id === undefined || typeof token !== 'string' || !door.sessions.csrfMatches(id, token)) {
    throw new ConsoleError(ConsoleCodes.InvalidCsrfToken, 'The X-Berth-Csrf header is missing or wrong.');
  }
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
