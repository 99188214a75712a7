/** The frame around every signed-in page: a skip link, the navigation, who is signed in, sign-out. */
import type { ReactNode } from 'react';
import { Link, type Route, useNav } from '../router';
import { useSession } from '../session';

const SECTIONS: { label: string; to: Route; match: Route['page'][] }[] = [
  { label: 'Repositories', to: { page: 'repositories' }, match: ['repositories', 'repository', 'image'] },
  { label: 'Replication & cache', to: { page: 'replication' }, match: ['replication'] },
  { label: 'IAM', to: { page: 'iam' }, match: ['iam'] },
  { label: 'Usage', to: { page: 'usage' }, match: ['usage'] },
];

export function Layout({ children }: { children: ReactNode }) {
  const { route, navigate } = useNav();
  const { session, signOut } = useSession();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={{ page: 'repositories' }} className="brand">
          Berth
        </Link>
        <nav aria-label="Main">
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.label}>
                <Link to={s.to} aria-current={s.match.includes(route.page) ? 'page' : undefined}>
                  {s.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span title={session?.principal.arn}>{session?.principal.arn.replace(/^arn:aws:(iam|sts)::/, '')}</span>
          <button type="button" onClick={() => void signOut().then(() => navigate({ page: 'signin' }))}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
