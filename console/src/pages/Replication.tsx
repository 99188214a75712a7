/** Registry-level rules: the replication configuration (edited as ECR's JSON) and pull-through cache rules. */
import { type FormEvent, useEffect, useState } from 'react';
import { ecr } from '../api';
import { ConfirmButton, ErrorMessage, Loading, Notice } from '../components/common';
import { when } from '../format';
import { onSuccess, useAction, useLoad } from '../hooks';
import { useCan } from '../session';
import { jsonProblem } from './Permissions';

interface CacheRule {
  ecrRepositoryPrefix: string;
  upstreamRegistryUrl: string;
  upstreamRegistry?: string;
  credentialArn?: string;
  createdAt?: number;
}

const CHECKS = [{ action: 'ecr:PutReplicationConfiguration' }, { action: 'ecr:CreatePullThroughCacheRule' }, { action: 'ecr:DeletePullThroughCacheRule' }];
const EMPTY_REPLICATION = JSON.stringify({ rules: [] }, null, 2);

export function ReplicationPage() {
  const can = useCan(CHECKS);
  return (
    <>
      <h1>Replication and pull-through cache</h1>
      <ReplicationSection mayEdit={can('ecr:PutReplicationConfiguration')} />
      <CacheRulesSection mayCreate={can('ecr:CreatePullThroughCacheRule')} mayDelete={can('ecr:DeletePullThroughCacheRule')} />
    </>
  );
}

function ReplicationSection({ mayEdit }: { mayEdit: boolean }) {
  const registry = useLoad(() => ecr<{ registryId?: string; replicationConfiguration?: { rules?: unknown[] } }>('DescribeRegistry'), 'registry');
  const [text, setText] = useState(EMPTY_REPLICATION);
  const [notice, setNotice] = useState<string>();
  const save = useAction();
  useEffect(() => {
    if (registry.data) setText(JSON.stringify(registry.data.replicationConfiguration ?? { rules: [] }, null, 2));
  }, [registry.data]);
  const problem = jsonProblem(text, 'rules');
  return (
    <section aria-labelledby="repl-title" className="card">
      <h2 id="repl-title">Replication</h2>
      <p>
        Rules copy images to other regions or accounts:{' '}
        <code>{'{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"…"}],"repositoryFilters":[…]}]}'}</code>
      </p>
      <ErrorMessage error={registry.error} />
      {registry.loading && !registry.data ? (
        <Loading what="the replication configuration" />
      ) : (
        <>
          <label>
            Replication configuration
            <textarea
              className="mono"
              rows={10}
              value={text}
              readOnly={!mayEdit}
              spellCheck={false}
              onChange={(e) => {
                setText(e.target.value);
                save.clear();
              }}
              aria-invalid={problem || save.error ? true : undefined}
              aria-describedby="repl-error"
            />
          </label>
          <p id="repl-error" className="error" role="alert">
            {problem ?? save.error}
          </p>
          {notice && <Notice>{notice}</Notice>}
          {mayEdit && (
            <button
              type="button"
              className="primary"
              disabled={save.busy || problem !== undefined}
              onClick={() =>
                void save
                  .run(() => ecr('PutReplicationConfiguration', { replicationConfiguration: JSON.parse(text) }))
                  .then(
                    onSuccess(() => {
                      setNotice('Replication configuration saved.');
                      registry.reload();
                    }),
                  )
              }
            >
              Save replication
            </button>
          )}
        </>
      )}
    </section>
  );
}

function CacheRulesSection({ mayCreate, mayDelete }: { mayCreate: boolean; mayDelete: boolean }) {
  const rules = useLoad(() => ecr<{ pullThroughCacheRules?: CacheRule[] }>('DescribePullThroughCacheRules').then((r) => r.pullThroughCacheRules ?? []), 'ptc');
  const act = useAction();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const credentialArn = String(f.get('credentialArn') ?? '').trim();
    void act
      .run(() =>
        ecr('CreatePullThroughCacheRule', {
          ecrRepositoryPrefix: String(f.get('prefix') ?? '').trim(),
          upstreamRegistryUrl: String(f.get('upstream') ?? '').trim(),
          ...(credentialArn && { credentialArn }),
        }),
      )
      .then((ok) => {
        if (ok) {
          form.reset();
          rules.reload();
        }
      });
  };
  return (
    <section aria-labelledby="ptc-title" className="card">
      <h2 id="ptc-title">Pull-through cache rules</h2>
      <ErrorMessage error={rules.error ?? act.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Prefix</th>
              <th>Upstream</th>
              <th>Credential</th>
              <th>Created</th>
              {mayDelete && (
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {(rules.data ?? []).map((r) => (
              <tr key={r.ecrRepositoryPrefix}>
                <td className="mono">{r.ecrRepositoryPrefix}</td>
                <td className="mono">{r.upstreamRegistryUrl}</td>
                <td className="mono small">{r.credentialArn ?? '—'}</td>
                <td>{when(r.createdAt)}</td>
                {mayDelete && (
                  <td>
                    <ConfirmButton
                      label={`Delete rule ${r.ecrRepositoryPrefix}`}
                      title={`Delete the rule for ${r.ecrRepositoryPrefix}?`}
                      confirmLabel="Delete"
                      onConfirm={() =>
                        act.run(() => ecr('DeletePullThroughCacheRule', { ecrRepositoryPrefix: r.ecrRepositoryPrefix })).then(onSuccess(rules.reload))
                      }
                    >
                      <p>Images already cached stay; new pulls under the prefix no longer reach the upstream.</p>
                    </ConfirmButton>
                  </td>
                )}
              </tr>
            ))}
            {rules.data?.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No pull-through cache rules.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {mayCreate && (
        <form onSubmit={submit} aria-label="Create pull-through cache rule" className="grid">
          <label>
            Repository prefix
            <input name="prefix" required minLength={2} maxLength={30} spellCheck={false} />
          </label>
          <label>
            Upstream registry URL
            <input name="upstream" required placeholder="registry-1.docker.io" spellCheck={false} />
          </label>
          <label>
            Credential ARN (Secrets Manager, optional)
            <input name="credentialArn" spellCheck={false} />
          </label>
          <div className="actions">
            <button type="submit" disabled={act.busy}>
              Create rule
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
