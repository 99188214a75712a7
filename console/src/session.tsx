/**
 * Who is signed in (docs/console-api.md). The server keeps the session in an HttpOnly cookie the
 * app cannot read; the app learns the principal, the registry's address and the CSRF token to
 * send back, and asks the server which actions the principal may perform so that it can hide the
 * buttons the server would refuse anyway.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { request, setCsrfToken, whenSignedOut } from './api';
import { useLoad } from './hooks';

export interface SessionInfo {
  principal: { arn: string; accountId: string; kind: 'root' | 'user' | 'role'; userName?: string };
  csrfToken: string;
  expiresAt: string;
  /** host goes in image references; endpoint after --endpoint-url. */
  registry: { accountId: string; region: string; host: string; endpoint: string };
}

export type SignIn =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { accountId: string; userName: string; password: string; newPassword?: string };

interface SessionState {
  /** undefined while the first answer is awaited, null when signed out. */
  session: SessionInfo | null | undefined;
  signIn(form: SignIn): Promise<void>;
  signOut(): Promise<void>;
}

const Ctx = createContext<SessionState | undefined>(undefined);

const askSession = () => request<SessionInfo>('GET', '/console/api/session').catch(() => null);
/** Asked as the script loads, before React's first render: the answer decides the first page. */
let firstAnswer: Promise<SessionInfo | null> | undefined = askSession();

function adopt(info: SessionInfo | null): SessionInfo | null {
  setCsrfToken(info?.csrfToken);
  return info;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);

  useEffect(() => {
    whenSignedOut(() => setSession(adopt(null)));
    const answer = firstAnswer ?? askSession();
    firstAnswer = undefined;
    void answer.then((s) => setSession(adopt(s)));
  }, []);

  const signIn = useCallback(async (form: SignIn) => {
    const s = await request<SessionInfo>('POST', '/console/api/sign-in', form);
    setSession(adopt(s));
  }, []);

  const signOut = useCallback(async () => {
    try {
      await request('POST', '/console/api/sign-out');
    } finally {
      setSession(adopt(null));
    }
  }, []);

  return <Ctx.Provider value={{ session, signIn, signOut }}>{children}</Ctx.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export interface Check {
  action: string;
  resource?: string;
}

/**
 * Whether the principal may perform each check, as the server's authorizer says. While the answer
 * is awaited (or if the question fails) every check reads false: a button appears once allowed,
 * and the server refuses a forbidden call anyway.
 */
export type Can = ((action: string, resource?: string) => boolean) & {
  /** False until the server answered: containers of guarded buttons say aria-busy meanwhile. */
  ready: boolean;
};

export function useCan(checks: Check[]): Can {
  const key = checks.map((c) => `${c.action}@${c.resource ?? ''}`).join(',');
  const answer = useLoad(() => request<{ results: (Check & { allowed: boolean })[] }>('POST', '/console/api/can', { checks }).then((r) => r.results), key);
  const can = (action: string, resource?: string) =>
    answer.data?.some((r) => r.action === action && (r.resource ?? '') === (resource ?? '') && r.allowed) ?? false;
  return Object.assign(can, { ready: !answer.loading });
}
