/**
 * The console's sign-in, sign-out and session answers. Sign-in takes an access key id and its
 * secret (with a session token for temporary credentials), checked exactly as a SigV4 signature
 * made with them would be (authn.ts), or an IAM user's console password (auth/login-profiles.ts);
 * any wrong part gets the one same answer. Failures are throttled (auth/sign-in-throttle.ts).
 * The secret is used once, here, and kept nowhere; the browser gets an HttpOnly cookie.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpenSession, SessionBasis } from '../../auth/console-sessions.js';
import { IdentityError } from '../../auth/identity-admin.js';
import { passwordIdentity } from '../../auth/sign-in-throttle.js';
import { userPrincipal, type Principal } from '../../auth/principal.js';
import { ConsoleCodes, IamCodes } from '../../core/errors.js';
import { v2Location } from '../registry-address.js';
import { noteOperation, notePrincipal } from '../request-facts.js';
import { externalScheme, readBody } from '../request.js';
import { ConsoleError, clearSessionCookie, sendConsoleJson, sessionCookie, setSessionCookie } from './responses.js';
import type { ConsoleDoor } from './door.js';

/** A sign-in body is a few short strings (a session token is a few KiB at most). */
const MAX_SIGN_IN_BYTES = 8 * 1024;
const INVALID = 'The sign-in credentials are not valid.';

type SignInBody =
  | { kind: 'keys'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'password'; accountId: string; userName: string; password: string; newPassword?: string };

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
}

function parseSignIn(raw: Buffer): SignInBody {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ConsoleError(ConsoleCodes.Validation, 'The body must be JSON.');
  }
  if (typeof body !== 'object' || body === null) throw new ConsoleError(ConsoleCodes.Validation, 'The body must be a JSON object.');
  const b = body as Record<string, unknown>;
  const wrong = () =>
    new ConsoleError(ConsoleCodes.Validation, 'Give accessKeyId and secretAccessKey (and sessionToken), or accountId, userName and password.');
  if (b.accessKeyId !== undefined) {
    const accessKeyId = str(b.accessKeyId, 128);
    const secretAccessKey = str(b.secretAccessKey, 128);
    const sessionToken = b.sessionToken === undefined || b.sessionToken === '' ? undefined : str(b.sessionToken, 6144);
    if (!accessKeyId || !secretAccessKey || (b.sessionToken !== undefined && b.sessionToken !== '' && !sessionToken)) throw wrong();
    return { kind: 'keys', accessKeyId, secretAccessKey, ...(sessionToken !== undefined && { sessionToken }) };
  }
  const accountId = str(b.accountId, 12);
  const userName = str(b.userName, 64);
  const password = str(b.password, 128);
  const newPassword = b.newPassword === undefined ? undefined : str(b.newPassword, 1024);
  if (!accountId || !userName || !password || (b.newPassword !== undefined && newPassword === undefined)) throw wrong();
  return { kind: 'password', accountId, userName, password, ...(newPassword !== undefined && { newPassword }) };
}

/** What sign-in and GET /console/api/session answer. */
export function sessionBody(door: ConsoleDoor, req: IncomingMessage, s: OpenSession): unknown {
  const p = s.principal;
  const requestHost = req.headers.host ?? 'localhost';
  return {
    principal: { arn: p.arn, accountId: p.accountId, kind: p.kind, ...(p.userName !== undefined && { userName: p.userName }) },
    csrfToken: s.csrfToken,
    expiresAt: s.expiresAt.toISOString(),
    registry: {
      accountId: p.accountId,
      region: door.region,
      host: v2Location(p.accountId, p.accountId, door.registryHost, requestHost).host,
      endpoint: `${externalScheme(req)}://${requestHost}`,
    },
  };
}

export async function signIn(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A cross-site form cannot send JSON without a CORS preflight, which Berth never grants: no
  // other site can sign a browser in (to an account of its choosing).
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new ConsoleError(ConsoleCodes.Validation, 'Sign-in takes Content-Type: application/json.');
  }
  const raw = await readBody(req, MAX_SIGN_IN_BYTES).catch(() => {
    throw new ConsoleError(ConsoleCodes.Validation, `The body is over ${MAX_SIGN_IN_BYTES} bytes.`);
  });
  const body = parseSignIn(raw);
  const source = req.socket.remoteAddress ?? '';
  const who = body.kind === 'keys' ? body.accessKeyId : passwordIdentity(body.accountId, body.userName);
  const wait = door.throttle.retryAfter(source, who);
  if (wait !== undefined) {
    throw new ConsoleError(ConsoleCodes.Throttling, 'Too many failed sign-ins: try again later.', { 'Retry-After': String(wait) });
  }
  const refuse = () => {
    door.throttle.failed(source, who);
    return new ConsoleError(ConsoleCodes.InvalidCredentials, INVALID);
  };
  let principal: Principal;
  let basis: SessionBasis;
  if (body.kind === 'keys') {
    const p = await door.authenticator.principalOfCredentials(body);
    if (!p) throw refuse();
    principal = p;
    basis =
      body.sessionToken !== undefined && body.accessKeyId.startsWith('ASIA')
        ? { kind: 'temporary', accessKeyId: body.accessKeyId, sessionToken: body.sessionToken }
        : { kind: 'key', accessKeyId: body.accessKeyId };
  } else {
    const profiles = door.identities.loginProfiles;
    const check = profiles ? await profiles.check(body.accountId, body.userName, body.password) : { ok: false as const };
    if (!check.ok || !profiles) throw refuse();
    let stamp = check.stamp;
    if (check.resetRequired) {
      if (body.newPassword === undefined) {
        throw new ConsoleError(ConsoleCodes.PasswordResetRequired, 'The password must be changed: sign in again with newPassword.');
      }
      stamp = await profiles.change(body.accountId, check.user.name, body.password, body.newPassword).catch((e: unknown) => {
        if (e instanceof IdentityError && e.code === IamCodes.PasswordPolicyViolation) throw new ConsoleError(IamCodes.PasswordPolicyViolation, e.message);
        throw e;
      });
    }
    principal = { ...userPrincipal(body.accountId, check.user.name, check.user.path, undefined, check.user.tags), userId: check.user.userId };
    basis = { kind: 'password', userName: check.user.name, userId: check.user.userId, password: stamp };
  }
  notePrincipal(req, principal);
  noteOperation(req, 'signin', 'ConsoleLogin');
  // A browser signing in again leaves no earlier session of its own behind.
  await door.sessions.end(sessionCookie(req));
  const session = await door.sessions.start(principal, basis, principal.session?.expiresAt);
  setSessionCookie(req, res, session.id);
  sendConsoleJson(res, 200, sessionBody(door, req, session));
}

export async function signOut(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await door.sessions.end(sessionCookie(req));
  clearSessionCookie(req, res);
  sendConsoleJson(res, 204, undefined);
}
