/** CreateRepository's form: tag mutability with exclusion filters, scan on push, encryption. */
import { type FormEvent, useState } from 'react';
import { ecr } from '../api';
import { useAction } from '../hooks';
import { ErrorMessage } from './common';

export const MUTABILITIES = ['MUTABLE', 'IMMUTABLE', 'MUTABLE_WITH_EXCLUSION', 'IMMUTABLE_WITH_EXCLUSION'] as const;

/** One wildcard filter a line (or comma-separated), as ECR's imageTagMutabilityExclusionFilters. */
export function parseFilters(text: string): { filterType: 'WILDCARD'; filter: string }[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((filter) => ({ filterType: 'WILDCARD', filter }));
}

export function CreateRepository({ onDone }: { onDone(): void }) {
  const action = useAction();
  const [mutability, setMutability] = useState<string>('MUTABLE');
  const [encryption, setEncryption] = useState('AES256');
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const filters = parseFilters(String(f.get('filters') ?? ''));
    const kmsKey = String(f.get('kmsKey') ?? '').trim();
    void action
      .run(() =>
        ecr('CreateRepository', {
          repositoryName: String(f.get('name') ?? '').trim(),
          imageTagMutability: mutability,
          ...(mutability.endsWith('_WITH_EXCLUSION') && { imageTagMutabilityExclusionFilters: filters }),
          imageScanningConfiguration: { scanOnPush: f.get('scanOnPush') === 'on' },
          encryptionConfiguration: { encryptionType: encryption, ...(encryption === 'KMS' && kmsKey && { kmsKey }) },
        }),
      )
      .then((ok) => ok && onDone());
  };
  return (
    <form className="card" onSubmit={submit} aria-label="Create repository">
      <h2>Create repository</h2>
      <label>
        Repository name
        <input
          name="name"
          required
          pattern="[a-z0-9]+(?:[._\-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._\-][a-z0-9]+)*)*"
          spellCheck={false}
          aria-describedby="name-hint"
        />
      </label>
      <p id="name-hint" className="hint">
        Lower-case letters, digits, and . _ - separators; / makes namespaces (team/web).
      </p>
      <label>
        Tag mutability
        <select value={mutability} onChange={(e) => setMutability(e.target.value)}>
          {MUTABILITIES.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      {mutability.endsWith('_WITH_EXCLUSION') && (
        <label>
          Exclusion filters
          <textarea name="filters" rows={2} placeholder={'latest\nrelease-*'} aria-describedby="filters-hint" />
          <span id="filters-hint" className="hint">
            Tags matching these wildcards take the other mutability; one a line.
          </span>
        </label>
      )}
      <label className="check">
        <input type="checkbox" name="scanOnPush" /> Scan on push
      </label>
      <fieldset>
        <legend>Encryption</legend>
        <label className="check">
          <input type="radio" name="encryption" value="AES256" checked={encryption === 'AES256'} onChange={() => setEncryption('AES256')} /> AES-256 (Berth's
          key)
        </label>
        <label className="check">
          <input type="radio" name="encryption" value="KMS" checked={encryption === 'KMS'} onChange={() => setEncryption('KMS')} /> KMS key
        </label>
        {encryption === 'KMS' && (
          <label>
            KMS key ARN or alias (empty: the account's default key)
            <input name="kmsKey" spellCheck={false} />
          </label>
        )}
      </fieldset>
      <ErrorMessage error={action.error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={action.busy}>
          Create
        </button>
      </div>
    </form>
  );
}
