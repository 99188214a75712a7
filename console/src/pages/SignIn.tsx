/** Sign-in with an access key (and a session token for temporary credentials) or an IAM user's password. */
import { type FormEvent, useState } from 'react';
import { ApiError } from '../api';
import { ErrorMessage } from '../components/common';
import { useAction } from '../hooks';
import { useNav } from '../router';
import { useSession } from '../session';

export function SignInPage() {
  const { signIn } = useSession();
  const { route, navigate } = useNav();
  const [mode, setMode] = useState<'keys' | 'password'>('keys');
  const action = useAction();
  // Set when the server answered PasswordResetRequired: the same form again, with a new password.
  const [mustReset, setMustReset] = useState(false);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    void action
      .run(() =>
        mode === 'keys'
          ? signIn({
              accessKeyId: v('accessKeyId'),
              secretAccessKey: String(f.get('secretAccessKey') ?? ''),
              ...(v('sessionToken') && { sessionToken: v('sessionToken') }),
            })
          : signIn({
              accountId: v('accountId'),
              userName: v('userName'),
              password: String(f.get('password') ?? ''),
              ...(mustReset && { newPassword: String(f.get('newPassword') ?? '') }),
            }).catch((err: unknown) => {
              if (err instanceof ApiError && err.type === 'PasswordResetRequired') setMustReset(true);
              throw err;
            }),
      )
      // A deep link stays where it pointed; the sign-in page's own path goes to the list.
      .then((ok) => ok && route.page === 'signin' && navigate({ page: 'repositories' }, { replace: true }));
  };

  return (
    <main id="main" className="signin">
      <h1>Sign in to Berth</h1>
      <fieldset className="tabs">
        <legend className="sr-only">Sign in with</legend>
        <button type="button" aria-pressed={mode === 'keys'} onClick={() => setMode('keys')}>
          Access key
        </button>
        <button type="button" aria-pressed={mode === 'password'} onClick={() => setMode('password')}>
          IAM user password
        </button>
      </fieldset>
      <form onSubmit={submit} className="card">
        {mode === 'keys' ? (
          <>
            <label>
              Access key ID
              <input name="accessKeyId" autoComplete="username" required spellCheck={false} />
            </label>
            <label>
              Secret access key
              <input name="secretAccessKey" type="password" autoComplete="current-password" required />
            </label>
            <label>
              Session token
              <input name="sessionToken" autoComplete="off" spellCheck={false} aria-describedby="token-hint" />
            </label>
            <p id="token-hint" className="hint">
              Only for temporary credentials (from STS).
            </p>
          </>
        ) : (
          <>
            <label>
              Account ID
              <input name="accountId" inputMode="numeric" pattern="[0-9]{12}" autoComplete="organization" required />
            </label>
            <label>
              User name
              <input name="userName" autoComplete="username" required spellCheck={false} />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
            {mustReset && (
              <label>
                New password
                <input name="newPassword" type="password" autoComplete="new-password" minLength={8} maxLength={128} required />
              </label>
            )}
          </>
        )}
        <ErrorMessage error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          Sign in
        </button>
      </form>
      <p className="hint">The secret goes to the server once; the browser keeps only a session cookie it cannot read.</p>
    </main>
  );
}
