/** Chooses the page: the sign-in page until a session exists, then the routed page inside the layout. */
import { useEffect } from 'react';
import { Layout } from './components/Layout';
import { IamPage } from './pages/Iam';
import { ImagePage } from './pages/Image';
import { RepositoriesPage } from './pages/Repositories';
import { RepositoryPage } from './pages/Repository';
import { ReplicationPage } from './pages/Replication';
import { SignInPage } from './pages/SignIn';
import { UsagePage } from './pages/Usage';
import { Link, type Route, useNav } from './router';
import { useSession } from './session';

function title(route: Route): string {
  switch (route.page) {
    case 'repository':
      return `${route.name} (${route.tab})`;
    case 'image':
      return `${route.name}@${route.digest.slice(7, 19)}`;
    case 'iam':
      return 'IAM';
    case 'notfound':
      return 'Not found';
    default:
      return route.page[0]!.toUpperCase() + route.page.slice(1);
  }
}

export function App() {
  const { session } = useSession();
  const { route, navigate } = useNav();

  useEffect(() => {
    document.title = `${title(route)} · Berth`;
  }, [route]);
  // Signed in on the sign-in page (a reload, the back button): go to the repositories.
  useEffect(() => {
    if (session && route.page === 'signin') navigate({ page: 'repositories' }, { replace: true });
  }, [session, route, navigate]);

  if (session === undefined)
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  if (session === null) return <SignInPage />;
  return <Layout>{page(route)}</Layout>;
}

function page(route: Route) {
  switch (route.page) {
    case 'signin':
    case 'repositories':
      return <RepositoriesPage />;
    case 'repository':
      return <RepositoryPage key={route.name} name={route.name} tab={route.tab} />;
    case 'image':
      return <ImagePage key={`${route.name}@${route.digest}`} name={route.name} digest={route.digest} />;
    case 'iam':
      return <IamPage />;
    case 'replication':
      return <ReplicationPage />;
    case 'usage':
      return <UsagePage />;
    case 'notfound':
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing at {route.path}. <Link to={{ page: 'repositories' }}>Back to the repositories</Link>
          </p>
        </>
      );
  }
}
