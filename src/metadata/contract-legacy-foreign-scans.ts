/**
 * Scans made before migration 37 of manifests naming non-distributable layers, which the scanner
 * then read from whatever blob had their digest (another account's, perhaps): the rows a test
 * writes into a database migrated only part of the way, and what the store must answer once
 * migrated (those scans and inventories gone; another image's kept). Both engines' tests use it.
 */
import assert from 'node:assert/strict';
import type { Digest } from '../core/digest.js';
import { registryKey } from '../core/registry-key.js';
import type { MetadataStore } from './types.js';

const ACCOUNT = '246813579024';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const layer = (mediaType: string) => `{"layers":[{"mediaType":"${mediaType}","digest":"sha256:ee","size":1}]}`;
/** Digest → payload: an OCI non-distributable layer, a Docker foreign one, an ordinary one. */
const IMAGES: Array<[Digest, string]> = [
  ['sha256:f1' as Digest, layer('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')],
  ['sha256:f2' as Digest, layer('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')],
  ['sha256:a1' as Digest, layer('application/vnd.oci.image.layer.v1.tar+gzip')],
];

export const LEGACY_FOREIGN_SCANS_SQL = [
  `INSERT INTO repositories (registry_id, name, created_at) VALUES ('${ACCOUNT}:us-east-1', 'scanned/app', 1)`,
  ...IMAGES.flatMap(([digest, payload]) => [
    `INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at)
       SELECT id, '${digest}', '${OCI}', ${payload.length}, '${payload}', 1 FROM repositories WHERE name = 'scanned/app'`,
    `INSERT INTO image_scans (repository_id, digest, status, description, started_at, completed_at, findings)
       SELECT id, '${digest}', 'COMPLETE', 'The scan was completed successfully.', 1, 2, '{}' FROM repositories WHERE name = 'scanned/app'`,
    `INSERT INTO package_inventories (digest, inventory, created_at) VALUES ('${digest}', '{"packages":[]}', 1)`,
  ]),
];

export async function checkLegacyForeignScans(s: MetadataStore): Promise<void> {
  const repo = await s.repositories.find(registryKey(ACCOUNT, 'us-east-1'), 'scanned/app');
  assert.ok(repo);
  for (const [digest] of IMAGES) {
    const kept = digest === 'sha256:a1';
    assert.equal((await s.scans.get(repo.id, digest))?.status, kept ? 'COMPLETE' : undefined, `${digest}'s scan`);
    assert.equal(await s.scans.inventory(digest), kept ? '{"packages":[]}' : undefined, `${digest}'s inventory`);
  }
}
