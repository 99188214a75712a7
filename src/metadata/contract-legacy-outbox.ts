/**
 * Events queued in the outbox before migration 36, which gave each row its account: rows a test
 * writes into a database migrated only part of the way, and what the store must answer once
 * migrated (every row claimable, in turns between the accounts their registry keys name). One
 * body quotes a NUL, which PostgreSQL's JSON would refuse: the migration must not parse bodies.
 * Both engines' tests use it.
 */
import assert from 'node:assert/strict';
import type { MetadataStore } from './types.js';

/** [registry key, body as stored]. */
const LEGACY: Array<[string, string]> = [
  ['123456789012:us-east-1', JSON.stringify({ n: 0, x: '\u0000' })],
  ['123456789012:eu-west-1', JSON.stringify({ n: 1 })],
  ['aws-public-alias:public', JSON.stringify({ n: 2 })],
];

export const LEGACY_OUTBOX_SQL = LEGACY.map(
  ([key, body], n) =>
    `INSERT INTO event_outbox (id, registry_id, detail_type, body, created_at) VALUES ('legacy-${n}', '${key}', 'ECR Image Action', '${body.replaceAll("'", "''")}', ${n})`,
);

export async function checkLegacyOutbox(s: MetadataStore): Promise<void> {
  const claimed = await s.eventOutbox.claim('n1', 1000, 10, new Date(100));
  assert.deepEqual(
    claimed.map((r) => [r.id, r.body]),
    [0, 2, 1].map((n) => [`legacy-${n}`, LEGACY[n]![1]]),
    'every event queued before migration 36 is claimable, in turns between the accounts of their registry keys',
  );
}
