/**
 * The lifecycle rule editor: rules edited as a form (or as ECR's JSON), saved with
 * PutLifecyclePolicy, and previewed with StartLifecyclePolicyPreview, whose result (what would
 * expire) is polled until the preview completes.
 */
import { useEffect, useState } from 'react';
import { ApiError, ecr } from '../api';
import { ConfirmButton, ErrorMessage, Loading, Notice } from '../components/common';
import { newRule, parsePolicy, policyText, type RuleForm } from '../components/lifecycle-rules';
import type { PreviewResult } from '../ecr-types';
import { shortDigest, when } from '../format';
import { useAction, useLoad } from '../hooks';
import { useCan } from '../session';

interface Preview {
  status?: string;
  previewResults?: PreviewResult[];
  summary?: { expiringImageTotalCount?: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runPreview(name: string, text: string): Promise<Preview> {
  await ecr('StartLifecyclePolicyPreview', { repositoryName: name, lifecyclePolicyText: text });
  for (;;) {
    const p = await ecr<Preview>('GetLifecyclePolicyPreview', { repositoryName: name, maxResults: 100 });
    if (p.status !== 'IN_PROGRESS') return p;
    await sleep(500);
  }
}

export function LifecycleTab({ name }: { name: string }) {
  const saved = useLoad(
    () =>
      ecr<{ lifecyclePolicyText?: string }>('GetLifecyclePolicy', { repositoryName: name }).then(
        (r) => r.lifecyclePolicyText,
        (err: unknown) => {
          if (err instanceof ApiError && err.type === 'LifecyclePolicyNotFoundException') return undefined;
          throw err;
        },
      ),
    name,
  );
  const can = useCan([
    { action: 'ecr:PutLifecyclePolicy', resource: name },
    { action: 'ecr:DeleteLifecyclePolicy', resource: name },
    { action: 'ecr:StartLifecyclePolicyPreview', resource: name },
  ]);
  const [rules, setRules] = useState<RuleForm[]>([newRule(1)]);
  const [json, setJson] = useState<string>();
  const [jsonError, setJsonError] = useState<string>();
  const [preview, setPreview] = useState<Preview>();
  const [notice, setNotice] = useState<string>();
  const act = useAction();

  useEffect(() => {
    if (saved.data) {
      try {
        setRules(parsePolicy(saved.data));
      } catch {
        setJson(saved.data);
      }
    }
  }, [saved.data]);

  const text = policyText(rules);
  const set = (i: number, patch: Partial<RuleForm>) => setRules((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const applyJson = () => {
    try {
      setRules(parsePolicy(json ?? ''));
      setJson(undefined);
      setJsonError(undefined);
    } catch (e) {
      setJsonError((e as Error).message);
    }
  };

  if (saved.loading && saved.data === undefined && !saved.error) return <Loading what="the lifecycle policy" />;
  return (
    <section>
      <ErrorMessage error={saved.error} />
      <p>{saved.data ? 'This repository has a lifecycle policy; edit its rules below.' : 'No lifecycle policy yet: write its rules below.'}</p>
      {json === undefined ? (
        <>
          {rules.map((r, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a rule has no identity but its place (its priority is being edited)
            <fieldset key={i} className="card rule">
              <legend>Rule {i + 1}</legend>
              <div className="grid">
                <label>
                  Rule priority
                  <input type="number" min={1} value={r.rulePriority} onChange={(e) => set(i, { rulePriority: Number(e.target.value) })} />
                </label>
                <label>
                  Description
                  <input value={r.description} onChange={(e) => set(i, { description: e.target.value })} />
                </label>
                <label>
                  Tag status
                  <select value={r.tagStatus} onChange={(e) => set(i, { tagStatus: e.target.value as RuleForm['tagStatus'] })}>
                    <option value="untagged">untagged</option>
                    <option value="tagged">tagged</option>
                    <option value="any">any</option>
                  </select>
                </label>
                {r.tagStatus === 'tagged' && (
                  <label>
                    Tag prefixes or patterns
                    <input value={r.tags} placeholder="release-, v1.*" onChange={(e) => set(i, { tags: e.target.value })} />
                  </label>
                )}
                <label>
                  Count type
                  <select value={r.countType} onChange={(e) => set(i, { countType: e.target.value as RuleForm['countType'] })}>
                    <option value="sinceImagePushed">days since pushed more than</option>
                    <option value="imageCountMoreThan">image count more than</option>
                  </select>
                </label>
                <label>
                  Count number
                  <input type="number" min={1} value={r.countNumber} onChange={(e) => set(i, { countNumber: Number(e.target.value) })} />
                </label>
              </div>
              {rules.length > 1 && (
                <button type="button" onClick={() => setRules((rs) => rs.filter((_, j) => j !== i))}>
                  Remove rule {i + 1}
                </button>
              )}
            </fieldset>
          ))}
          <div className="actions">
            <button type="button" onClick={() => setRules((rs) => [...rs, newRule(Math.max(0, ...rs.map((x) => x.rulePriority)) + 1)])}>
              Add rule
            </button>
            <button type="button" onClick={() => setJson(text)}>
              Edit as JSON
            </button>
          </div>
          <details>
            <summary>Policy JSON</summary>
            <pre className="mono">{text}</pre>
          </details>
        </>
      ) : (
        <label>
          Lifecycle policy JSON
          <textarea
            className="mono"
            rows={16}
            value={json}
            onChange={(e) => setJson(e.target.value)}
            aria-invalid={jsonError ? true : undefined}
            aria-describedby="json-error"
          />
          <span id="json-error" className="error" role="alert">
            {jsonError}
          </span>
          <button type="button" onClick={applyJson}>
            Apply JSON to the rules
          </button>
        </label>
      )}
      <ErrorMessage error={act.error} />
      {notice && <Notice>{notice}</Notice>}
      <div className="actions">
        {can('ecr:StartLifecyclePolicyPreview', name) && (
          <button type="button" disabled={act.busy || json !== undefined} onClick={() => void act.run(async () => setPreview(await runPreview(name, text)))}>
            Preview
          </button>
        )}
        {can('ecr:PutLifecyclePolicy', name) && (
          <button
            type="button"
            className="primary"
            disabled={act.busy || json !== undefined}
            onClick={() =>
              void act
                .run(() => ecr('PutLifecyclePolicy', { repositoryName: name, lifecyclePolicyText: text }))
                .then((ok) => {
                  if (ok) {
                    setNotice('Lifecycle policy saved.');
                    saved.reload();
                  }
                })
            }
          >
            Save policy
          </button>
        )}
        {saved.data && can('ecr:DeleteLifecyclePolicy', name) && (
          <ConfirmButton
            label="Delete policy"
            title="Delete the lifecycle policy?"
            confirmLabel="Delete"
            onConfirm={() =>
              act
                .run(() => ecr('DeleteLifecyclePolicy', { repositoryName: name }))
                .then((ok) => {
                  if (ok) {
                    setRules([newRule(1)]);
                    saved.reload();
                  }
                  return ok;
                })
            }
          >
            <p>No image expires once the policy is gone.</p>
          </ConfirmButton>
        )}
      </div>
      {preview && (
        <section aria-labelledby="preview-title">
          <h2 id="preview-title">Preview: what would expire</h2>
          <p role="status">
            {preview.status}: {preview.summary?.expiringImageTotalCount ?? preview.previewResults?.length ?? 0} image(s) would expire.
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Tags</th>
                  <th>Digest</th>
                  <th>Pushed at</th>
                  <th>Rule</th>
                  <th>Action</th>
                </tr>
              </thead>
              <tbody>
                {(preview.previewResults ?? []).map((p) => (
                  <tr key={p.imageDigest}>
                    <td>{p.imageTags?.join(', ') || 'untagged'}</td>
                    <td className="mono">{shortDigest(p.imageDigest)}</td>
                    <td>{when(p.imagePushedAt)}</td>
                    <td>{p.appliedRulePriority}</td>
                    <td>{p.action?.type}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </section>
  );
}
