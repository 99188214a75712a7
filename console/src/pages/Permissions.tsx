/**
 * The repository policy editor: JSON checked as it is typed (syntax), then by the server on save
 * (SetRepositoryPolicy validates the policy language); either error is shown under the editor.
 */
import { useEffect, useState } from 'react';
import { ApiError, ecr } from '../api';
import { ConfirmButton, ErrorMessage, Loading, Notice } from '../components/common';
import { onSuccess, useAction, useLoad } from '../hooks';
import { useCan, useSession } from '../session';

export function examplePolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AllowPull',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        },
      ],
    },
    null,
    2,
  );
}

/** A syntax error with its line, or undefined when the text parses as a JSON object holding `required`. */
export function jsonProblem(text: string, required = 'Statement'): string | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `Expected a JSON object with "${required}".`;
    if (!(required in v)) return `The document has no "${required}".`;
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined;
    return `Not valid JSON${line ? ` (line ${line})` : ''}: ${msg}`;
  }
}

export function PermissionsTab({ name }: { name: string }) {
  const { session } = useSession();
  const policy = useLoad(
    () =>
      ecr<{ policyText?: string }>('GetRepositoryPolicy', { repositoryName: name }).then(
        (r) => r.policyText ?? '',
        (err: unknown) => {
          if (err instanceof ApiError && err.type === 'RepositoryPolicyNotFoundException') return '';
          throw err;
        },
      ),
    name,
  );
  const can = useCan([
    { action: 'ecr:SetRepositoryPolicy', resource: name },
    { action: 'ecr:DeleteRepositoryPolicy', resource: name },
  ]);
  const [text, setText] = useState('');
  const [notice, setNotice] = useState<string>();
  const save = useAction();
  useEffect(() => {
    if (policy.data !== undefined)
      setText(policy.data ? JSON.stringify(JSON.parse(policy.data), null, 2) : examplePolicy(session?.principal.accountId ?? '123456789012'));
  }, [policy.data, session]);

  if (policy.data === undefined && !policy.error) return <Loading what="the repository policy" />;
  const problem = jsonProblem(text);
  const shown = problem ?? save.error;
  const mayEdit = can('ecr:SetRepositoryPolicy', name);
  return (
    <section>
      <ErrorMessage error={policy.error} />
      <p>{policy.data ? 'The repository policy:' : 'This repository has no policy: the example below is not saved until you save it.'}</p>
      <label>
        Repository policy
        <textarea
          className="mono"
          rows={18}
          value={text}
          readOnly={!mayEdit}
          spellCheck={false}
          onChange={(e) => {
            setText(e.target.value);
            save.clear();
            setNotice(undefined);
          }}
          aria-invalid={shown ? true : undefined}
          aria-describedby="policy-error"
        />
      </label>
      <p id="policy-error" className="error" role="alert">
        {shown}
      </p>
      {notice && <Notice>{notice}</Notice>}
      <div className="actions" aria-busy={!can.ready}>
        {mayEdit && (
          <button
            type="button"
            className="primary"
            disabled={save.busy || problem !== undefined}
            onClick={() =>
              void save
                .run(() => ecr('SetRepositoryPolicy', { repositoryName: name, policyText: text }))
                .then(
                  onSuccess(() => {
                    setNotice('Policy saved.');
                    policy.reload();
                  }),
                )
            }
          >
            Save policy
          </button>
        )}
        {policy.data && can('ecr:DeleteRepositoryPolicy', name) && (
          <ConfirmButton
            label="Delete policy"
            title="Delete the repository policy?"
            confirmLabel="Delete"
            onConfirm={() => save.run(() => ecr('DeleteRepositoryPolicy', { repositoryName: name })).then(onSuccess(policy.reload))}
          >
            <p>Access then comes from identity policies only.</p>
          </ConfirmButton>
        )}
      </div>
    </section>
  );
}
