/**
 * Jobs queued before migration 35, which gave each job its account: rows a test writes into a
 * database migrated only part of the way (each kind's payload as that kind stores it), and what
 * the store must answer once migrated (each job claimed with the account its payload names; the
 * deployment's own work under ''). Both engines' tests use it.
 */
import assert from 'node:assert/strict';
import type { MetadataStore } from './types.js';

const KEY = '210987654321:eu-west-1';

/** kind → [payload as stored, the account the migration must find]. An event's body may hold a NUL (escaped in the JSON). */
const LEGACY: Array<[string, object, string]> = [
  ['scan-image', { registryId: KEY, repository: 'a', digest: 'sha256:00' }, '210987654321'],
  ['event-delivery', { registryId: '123456789012:us-east-1', rule: 'r', target: 't', eventId: 'e', at: 1, body: '{"x":"\u0000"}' }, '123456789012'],
  ['archive.move', { registryKey: KEY, repository: 'a', repositoryId: 1, digest: 'sha256:00', target: 'ARCHIVE' }, '210987654321'],
  ['sign-image', { registryKey: 'aws-public-alias:public', repository: 'a', digest: 'sha256:00', profileArns: [], pushId: 'p' }, 'aws-public-alias'],
  ['replicate-image', { source: KEY, repository: 'a', digest: 'sha256:00', tags: [], destination: { region: 'x', registryId: '1' } }, '210987654321'],
  ['replication-backfill-prepare', { id: 'b', registry: KEY }, '210987654321'],
  ['replication-backfill-run', { id: 'b', registry: KEY, generation: 1 }, '210987654321'],
  ['reevaluate-inventories', { source: 'osv' }, ''],
  ['some-future-kind', { registryKey: KEY }, ''],
];

export const LEGACY_JOBS_SQL = LEGACY.map(
  ([kind, payload], n) =>
    `INSERT INTO jobs (kind, payload, run_after, created_at) VALUES ('${kind}', '${JSON.stringify(payload).replaceAll("'", "''")}', ${n}, ${n})`,
);

export async function checkLegacyJobs(s: MetadataStore): Promise<void> {
  const claimed = await s.jobs.claim(
    LEGACY.map(([kind]) => kind),
    'w',
    1000,
    100,
    new Date(100),
  );
  assert.deepEqual(
    claimed.map((j) => [j.kind, j.account]),
    LEGACY.map(([kind, , account]) => [kind, account]),
    'every job queued before migration 35 is claimable, under the account its payload names',
  );
}
