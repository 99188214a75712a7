/**
 * Upload sessions open before migration 33, which gave each session its account: the rows a
 * test writes into a database migrated only part of the way, and what the store must answer once
 * migrated (the old sessions count against their account's cap, not another's). Both engines'
 * tests use it.
 */
import assert from 'node:assert/strict';
import { registryKey } from '../core/registry-key.js';
import type { MetadataStore } from './types.js';

const ACCOUNT = '210987654321';
const OTHER = '123456789012';

export const LEGACY_UPLOADS_SQL = [
  `INSERT INTO repositories (registry_id, name, created_at) VALUES ('${ACCOUNT}:eu-west-1', 'legacy/up', 1)`,
  `INSERT INTO uploads (id, repository_id, size, created_at, updated_at)
     SELECT 'legacy-' || n.k, r.id, 0, 1, 1 FROM repositories r, (SELECT 'a' AS k UNION ALL SELECT 'b') n WHERE r.name = 'legacy/up'`,
];

export async function checkLegacyUploads(s: MetadataStore): Promise<void> {
  const repo = await s.repositories.find(registryKey(ACCOUNT, 'eu-west-1'), 'legacy/up');
  assert.ok(repo);
  const open = (id: string, accountId: string, perAccount: number) =>
    s.uploads.create({ id, repositoryId: repo.id, accountId, now: new Date(2) }, { perAccount, total: 100 });
  assert.equal(await open('new-1', ACCOUNT, 2), 'account', 'the two sessions from before migration 33 are the account’s');
  assert.equal(await open('new-2', OTHER, 1), 'created', 'and no other account’s');
  assert.equal(await open('new-3', ACCOUNT, 3), 'created');
}
