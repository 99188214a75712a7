/** A repository's settings: tag mutability (with exclusion filters) and scan on push; encryption is fixed at creation, as in ECR. */
import { useState } from 'react';
import { ecr } from '../api';
import { ErrorMessage, Notice } from '../components/common';
import { MUTABILITIES, parseFilters } from '../components/CreateRepository';
import type { Repository } from '../ecr-types';
import { useAction } from '../hooks';
import { useCan } from '../session';

export function SettingsTab({ repo, onSaved }: { repo: Repository; onSaved(): void }) {
  const name = repo.repositoryName;
  const can = useCan([
    { action: 'ecr:PutImageTagMutability', resource: name },
    { action: 'ecr:PutImageScanningConfiguration', resource: name },
  ]);
  const [mutability, setMutability] = useState(repo.imageTagMutability ?? 'MUTABLE');
  const [filters, setFilters] = useState((repo.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter).join('\n'));
  const [scanOnPush, setScanOnPush] = useState(repo.imageScanningConfiguration?.scanOnPush ?? false);
  const [notice, setNotice] = useState<string>();
  const act = useAction();
  const mayTags = can('ecr:PutImageTagMutability', name);
  const mayScan = can('ecr:PutImageScanningConfiguration', name);

  const save = () =>
    void act
      .run(async () => {
        if (mayTags)
          await ecr('PutImageTagMutability', {
            repositoryName: name,
            imageTagMutability: mutability,
            ...(mutability.endsWith('_WITH_EXCLUSION') && { imageTagMutabilityExclusionFilters: parseFilters(filters) }),
          });
        if (mayScan) await ecr('PutImageScanningConfiguration', { repositoryName: name, imageScanningConfiguration: { scanOnPush } });
      })
      .then((ok) => {
        if (ok) {
          setNotice('Settings saved.');
          onSaved();
        }
      });

  return (
    <section className="card">
      <label>
        Tag mutability
        <select value={mutability} disabled={!mayTags} onChange={(e) => setMutability(e.target.value)}>
          {MUTABILITIES.map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
      </label>
      {mutability.endsWith('_WITH_EXCLUSION') && (
        <label>
          Exclusion filters
          <textarea rows={3} value={filters} disabled={!mayTags} onChange={(e) => setFilters(e.target.value)} />
        </label>
      )}
      <label className="check">
        <input type="checkbox" checked={scanOnPush} disabled={!mayScan} onChange={(e) => setScanOnPush(e.target.checked)} /> Scan on push
      </label>
      <p>
        Encryption: <strong>{repo.encryptionConfiguration?.encryptionType ?? 'AES256'}</strong>
        {repo.encryptionConfiguration?.kmsKey && <span className="mono"> {repo.encryptionConfiguration.kmsKey}</span>} (set when the repository was created)
      </p>
      <p className="mono small">{repo.repositoryArn}</p>
      <ErrorMessage error={act.error} />
      {notice && <Notice>{notice}</Notice>}
      {(mayTags || mayScan) && (
        <button type="button" className="primary" disabled={act.busy} onClick={save}>
          Save settings
        </button>
      )}
    </section>
  );
}
