/**
 * The repository list: ECR's DescribeRepositories a page at a time (nextToken), sorted within the
 * page shown, and the create form. A search reads every repository once (pages of 1,000, which
 * the server answers in tens of milliseconds even at 10,000 repositories) and filters and sorts
 * them all. Each repository is a link named by its name.
 */
import { useMemo, useState } from 'react';
import { ecr } from '../api';
import { ErrorMessage, Loading } from '../components/common';
import { CreateRepository } from '../components/CreateRepository';
import type { Repository } from '../ecr-types';
import { when } from '../format';
import { useLoad } from '../hooks';
import { Link } from '../router';
import { useCan } from '../session';

const PAGE_SIZE = 100;
/** Pages of DescribeRepositories read for a search: ECR's largest page, and at most this many repositories. */
const SEARCH_PAGE = 1000;
const SEARCH_MAX = 100_000;

async function allRepositories(): Promise<Repository[]> {
  const all: Repository[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecr<{ repositories?: Repository[]; nextToken?: string }>('DescribeRepositories', {
      maxResults: SEARCH_PAGE,
      ...(nextToken && { nextToken }),
    });
    all.push(...(page.repositories ?? []));
    nextToken = page.nextToken;
  } while (nextToken && all.length < SEARCH_MAX);
  return all;
}
const CHECKS = [{ action: 'ecr:CreateRepository' }];
type SortKey = 'name' | 'created';

export function RepositoriesPage() {
  const can = useCan(CHECKS);
  // tokens[i] is the nextToken that fetches page i (undefined for the first).
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const page = tokens.length - 1;
  const list = useLoad(
    () =>
      ecr<{ repositories?: Repository[]; nextToken?: string }>('DescribeRepositories', {
        maxResults: PAGE_SIZE,
        ...(tokens[page] && { nextToken: tokens[page] }),
      }),
    `${page}:${tokens[page] ?? ''}`,
  );
  const [query, setQuery] = useState('');
  const searching = query.trim() !== '';
  // Read once when a search starts, kept while it goes on: each keystroke filters, none reloads.
  const everything = useLoad(() => (searching ? allRepositories() : Promise.resolve(undefined)), searching ? 'all' : 'page');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'name', desc: false });
  const [creating, setCreating] = useState(false);

  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    const source = q ? (everything.data ?? []) : (list.data?.repositories ?? []);
    const found = source.filter((r) => !q || r.repositoryName.includes(q));
    found.sort((a, b) => {
      const c = sort.key === 'name' ? a.repositoryName.localeCompare(b.repositoryName) : (a.createdAt ?? 0) - (b.createdAt ?? 0);
      return sort.desc ? -c : c;
    });
    return { shown: found.slice(0, PAGE_SIZE), matches: found.length };
  }, [list.data, everything.data, query, sort]);

  const sortButton = (key: SortKey, label: string) => (
    <button type="button" className="sort" onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : false }))}>
      {label}
      <span aria-hidden="true">{sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
    </button>
  );
  const ariaSort = (key: SortKey) => (sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none');

  return (
    <>
      <div className="page-head">
        <h1>Repositories</h1>
        <div className="actions" aria-busy={!can.ready}>
          {can('ecr:CreateRepository') && (
            <button type="button" className="primary" aria-expanded={creating} onClick={() => setCreating((c) => !c)}>
              Create repository
            </button>
          )}
        </div>
      </div>
      {creating && (
        <CreateRepository
          onDone={() => {
            setCreating(false);
            setTokens([undefined]);
            list.reload();
          }}
        />
      )}
      <div className="toolbar">
        <label>
          Search repositories
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="name contains…" />
        </label>
      </div>
      <ErrorMessage error={searching ? everything.error : list.error} />
      {searching && everything.data && (
        <p className="muted" role="status">
          {rows.matches === 0
            ? 'No repository matches.'
            : `${rows.matches} of ${everything.data.length} repositories match${rows.matches > PAGE_SIZE ? `; the first ${PAGE_SIZE} are shown` : ''}.`}
        </p>
      )}
      {(searching ? everything.loading && !everything.data : list.loading && !list.data) ? (
        <Loading what="repositories" />
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">{searching ? 'Repositories matching the search' : `Repositories, page ${page + 1}`}</caption>
            <thead>
              <tr>
                <th aria-sort={ariaSort('name')}>{sortButton('name', 'Name')}</th>
                <th className="wide">URI</th>
                <th aria-sort={ariaSort('created')}>{sortButton('created', 'Created')}</th>
                <th className="wide">Tag mutability</th>
                <th className="wide">Scan on push</th>
                <th className="wide">Encryption</th>
              </tr>
            </thead>
            <tbody>
              {rows.shown.map((r) => (
                <tr key={r.repositoryArn}>
                  <td>
                    <Link to={{ page: 'repository', name: r.repositoryName, tab: 'images' }}>{r.repositoryName}</Link>
                  </td>
                  <td className="mono wide">{r.repositoryUri}</td>
                  <td>{when(r.createdAt)}</td>
                  <td className="wide">{r.imageTagMutability ?? 'MUTABLE'}</td>
                  <td className="wide">{r.imageScanningConfiguration?.scanOnPush ? 'yes' : 'no'}</td>
                  <td className="wide">{r.encryptionConfiguration?.encryptionType ?? 'AES256'}</td>
                </tr>
              ))}
              {rows.shown.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    {searching ? 'No repository matches.' : 'No repositories yet.'}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages of repositories" hidden={searching}>
        <button type="button" disabled={page === 0} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {page + 1}</span>
        <button type="button" disabled={!list.data?.nextToken} onClick={() => setTokens((t) => [...t, list.data?.nextToken])}>
          Next page
        </button>
      </nav>
    </>
  );
}
