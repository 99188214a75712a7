/**
 * A managed-signing configuration stored before migration 30, when it was a named document
 * (kind 'signing-config'): the rows a test writes into a database migrated only that far, and
 * what the store must answer once migrated (the configuration among the registry's settings, as
 * it was; no named document left), and signing statuses whose image is gone swept by migration
 * 31 while an existing image's stays. Both engines' tests use it.
 */
import assert from 'node:assert/strict';
import { registryKey } from '../core/registry-key.js';
import type { MetadataStore } from './types.js';

const CONFIG = '{"rules":[{"signingProfileArn":"arn:aws:signer:us-east-1:123456789012:/signing-profiles/release"}]}';
const OTHER_CONFIG = '{"rules":[]}';

export const LEGACY_SIGNING_SQL = [
  `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at) VALUES
     ('123456789012:us-east-1', 'signing-config', 'registry', '${CONFIG}', 1, 1),
     ('123456789012:eu-west-1', 'signing-config', 'registry', '${OTHER_CONFIG}', 1, 1),
     ('123456789012:us-east-1', 'signing-status', 'app@sha256:00#arn', '{"status":"COMPLETE"}', 1, 1),
     ('123456789012:us-east-1', 'signing-status', 'app@sha256:01#arn', '{"status":"COMPLETE"}', 1, 1),
     ('123456789012:us-east-1', 'signing-status', 'gone@sha256:00#arn', '{"status":"FAILED"}', 1, 1),
     ('123456789012:eu-west-1', 'signing-status', 'app@sha256:00#arn', '{"status":"COMPLETE"}', 1, 1)`,
  `INSERT INTO repositories (registry_id, name, created_at) VALUES ('123456789012:us-east-1', 'app', 1)`,
  `INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at)
     SELECT id, 'sha256:00', 'application/vnd.oci.image.manifest.v1+json', 2, '{}', 1 FROM repositories WHERE name = 'app'`,
  `INSERT INTO registry_settings (registry_id, name, value) VALUES ('123456789012:us-east-1', 'scanning', '{"scanType":"BASIC","rules":[]}')`,
];

export async function checkLegacySigning(s: MetadataStore): Promise<void> {
  const home = registryKey('123456789012', 'us-east-1');
  assert.deepEqual(
    await s.registrySettings.all(home),
    new Map([
      ['scanning', '{"scanType":"BASIC","rules":[]}'],
      ['signing', CONFIG],
    ]),
  );
  assert.equal(await s.registrySettings.get(registryKey('123456789012', 'eu-west-1'), 'signing'), OTHER_CONFIG);
  // Read through the untyped door: 'signing-config' is no longer a document kind.
  const documents = s.documents as unknown as { get(k: unknown, kind: string, name: string): Promise<unknown> };
  assert.equal(await documents.get(home, 'signing-config', 'registry'), undefined, 'no named document left behind');
  assert.ok(await s.documents.get(home, 'signing-status', 'app@sha256:00#arn'), "an image's status stays");
  // Migration 31: statuses whose image is gone (no such manifest, no such repository, another registry's) are swept.
  assert.deepEqual(
    (await s.documents.list(home, 'signing-status', { limit: 10 })).map((r) => r.name),
    ['app@sha256:00#arn'],
  );
  assert.deepEqual(await s.documents.list(registryKey('123456789012', 'eu-west-1'), 'signing-status', { limit: 10 }), []);
}
