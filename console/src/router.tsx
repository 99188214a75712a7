/**
 * Client routing with the History API under /console/ (no hash): the server answers every
 * /console/... path that is not an asset with index.html, and this turns the path into a Route.
 * Repository names hold slashes, so a repository's sub-pages follow a `/-/` separator, which no
 * repository name can contain (a path component is never a lone '-').
 */
import { type AnchorHTMLAttributes, createContext, type MouseEvent, type ReactNode, useContext, useEffect, useState } from 'react';

export const BASE = '/console';

export type Route =
  | { page: 'signin' }
  | { page: 'repositories' }
  | { page: 'repository'; name: string; tab: 'images' | 'lifecycle' | 'permissions' | 'settings' }
  | { page: 'image'; name: string; digest: string }
  | { page: 'iam' }
  | { page: 'replication' }
  | { page: 'usage' }
  | { page: 'notfound'; path: string };

const TABS = ['images', 'lifecycle', 'permissions', 'settings'] as const;

export function parse(pathname: string): Route {
  let p = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  p = p.replace(/\/+$/, '');
  if (p === '' || p === '/repositories') return { page: 'repositories' };
  if (p === '/signin') return { page: 'signin' };
  if (p === '/iam') return { page: 'iam' };
  if (p === '/replication') return { page: 'replication' };
  if (p === '/usage') return { page: 'usage' };
  const m = /^\/repositories\/(.+?)(?:\/-\/(.*))?$/.exec(p);
  if (m) {
    const name = decodeURIComponent(m[1]!);
    const rest = m[2] ?? 'images';
    const img = /^images\/(.+)$/.exec(rest);
    if (img) return { page: 'image', name, digest: decodeURIComponent(img[1]!) };
    const tab = TABS.find((t) => t === rest);
    if (tab) return { page: 'repository', name, tab };
  }
  return { page: 'notfound', path: pathname };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'signin':
    case 'iam':
    case 'replication':
    case 'usage':
    case 'repositories':
      return `${BASE}/${route.page}`;
    case 'repository':
      return `${BASE}/repositories/${route.name}${route.tab === 'images' ? '' : `/-/${route.tab}`}`;
    case 'image':
      return `${BASE}/repositories/${route.name}/-/images/${route.digest}`;
    case 'notfound':
      return route.path;
  }
}

interface Nav {
  route: Route;
  navigate(to: Route | string, opts?: { replace?: boolean }): void;
}

const NavContext = createContext<Nav>({ route: { page: 'repositories' }, navigate: () => {} });

export function RouterProvider({ children }: { children: ReactNode }) {
  const [path, setPath] = useState(() => location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const navigate: Nav['navigate'] = (to, opts = {}) => {
    const url = typeof to === 'string' ? to : href(to);
    if (opts.replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    setPath(new URL(url, location.href).pathname);
    scrollTo(0, 0);
  };
  return <NavContext.Provider value={{ route: parse(path), navigate }}>{children}</NavContext.Provider>;
}

export function useNav(): Nav {
  return useContext(NavContext);
}

/** An anchor that navigates without reloading; a modified click (new tab) is left to the browser. */
export function Link({ to, children, ...rest }: { to: Route } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const { navigate } = useNav();
  const url = href(to);
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={url} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
