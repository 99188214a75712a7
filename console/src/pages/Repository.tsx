/** One repository: its header (URI, push commands, delete) and the tabs for images, lifecycle, permissions and settings. */
import { useState } from 'react';
import { ecr } from '../api';
import { ConfirmButton, CopyBlock, ErrorMessage, Loading } from '../components/common';
import type { Repository } from '../ecr-types';
import { onSuccess, useAction, useLoad } from '../hooks';
import { Link, useNav } from '../router';
import { useCan, useSession } from '../session';
import { ImagesTab } from './Images';
import { LifecycleTab } from './Lifecycle';
import { PermissionsTab } from './Permissions';
import { SettingsTab } from './Settings';

type Tab = 'images' | 'lifecycle' | 'permissions' | 'settings';
const TABS: { tab: Tab; label: string }[] = [
  { tab: 'images', label: 'Images' },
  { tab: 'lifecycle', label: 'Lifecycle' },
  { tab: 'permissions', label: 'Permissions' },
  { tab: 'settings', label: 'Settings' },
];

/** The commands with this registry's host (as in repositoryUri) and endpoint filled in. */
export function pushCommands(repo: Repository, registry: { region: string; host: string; endpoint: string } | undefined): string {
  const host = registry?.host ?? repo.repositoryUri.split('/')[0] ?? location.host;
  const endpoint = registry?.endpoint ?? location.origin;
  const region = registry ? ` --region ${registry.region}` : '';
  return [
    `aws ecr get-login-password${region} --endpoint-url ${endpoint} | docker login --username AWS --password-stdin ${host}`,
    `docker build -t ${repo.repositoryName} .`,
    `docker tag ${repo.repositoryName}:latest ${repo.repositoryUri}:latest`,
    `docker push ${repo.repositoryUri}:latest`,
  ].join('\n');
}

export function RepositoryPage({ name, tab }: { name: string; tab: Tab }) {
  const { session } = useSession();
  const can = useCan([{ action: 'ecr:DeleteRepository', resource: name }]);
  const { navigate } = useNav();
  const repo = useLoad(() => ecr<{ repositories?: Repository[] }>('DescribeRepositories', { repositoryNames: [name] }).then((r) => r.repositories?.[0]), name);
  const [showPush, setShowPush] = useState(false);
  const del = useAction();
  const [force, setForce] = useState(false);

  return (
    <>
      <p className="crumbs">
        <Link to={{ page: 'repositories' }}>Repositories</Link> / <span>{name}</span>
      </p>
      <div className="page-head">
        <h1>{name}</h1>
        <div className="actions" aria-busy={!can.ready}>
          <button type="button" aria-expanded={showPush} onClick={() => setShowPush((s) => !s)}>
            View push commands
          </button>
          {can('ecr:DeleteRepository', name) && (
            <ConfirmButton
              label="Delete repository"
              title={`Delete repository ${name}?`}
              confirmLabel="Delete"
              onConfirm={() =>
                del.run(() => ecr('DeleteRepository', { repositoryName: name, force })).then(onSuccess(() => navigate({ page: 'repositories' })))
              }
            >
              <p>The repository and its tags go; its layers are reclaimed after the grace period.</p>
              <label className="check">
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Also delete the images it holds
              </label>
              <ErrorMessage error={del.error} />
            </ConfirmButton>
          )}
        </div>
      </div>
      <ErrorMessage error={repo.error} />
      {repo.loading && !repo.data && <Loading what="the repository" />}
      {repo.data && (
        <p className="uri">
          URI: <span className="mono">{repo.data.repositoryUri}</span>
        </p>
      )}
      {showPush && repo.data && (
        <section className="card" aria-labelledby="push-title">
          <h2 id="push-title">Push commands for {name}</h2>
          <p>With the AWS CLI and Docker (Podman, skopeo and crane take the same login):</p>
          <CopyBlock label="Push commands" text={pushCommands(repo.data, session?.registry)} />
        </section>
      )}
      <nav className="tabs" aria-label="Repository">
        {TABS.map((t) => (
          <Link key={t.tab} to={{ page: 'repository', name, tab: t.tab }} aria-current={t.tab === tab ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === 'images' && <ImagesTab name={name} />}
      {tab === 'lifecycle' && <LifecycleTab name={name} />}
      {tab === 'permissions' && <PermissionsTab name={name} />}
      {tab === 'settings' && repo.data && <SettingsTab repo={repo.data} onSaved={repo.reload} />}
    </>
  );
}
