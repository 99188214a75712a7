/**
 * A registry's settings (scanning, replication and managed signing's configuration) in one
 * home. A manifest push reads them all in one query. A signing configuration stored before
 * migration 30 (a named document then, a registry setting since) still signs pushes after the
 * upgrade: a node writes the configuration, stops, its database is put back as a node before
 * migration 30 would have left it, and a node of this version starting on it answers the
 * configuration and signs a push with it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  CreateRepositoryCommand,
  DescribeImageSigningStatusCommand,
  GetSigningConfigurationCommand,
  PutImageCommand,
  PutRegistryScanningConfigurationCommand,
  PutSigningConfigurationCommand,
  type SigningRule,
} from '@aws-sdk/client-ecr';
import type { RegistrySettingsStore } from '../../src/metadata/types.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { configOnlyManifest, pushBlob, request, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess } from './helpers/in-process.js';
import { signedRest } from './helpers/signed-rest.js';

const dataDir = await mkdtemp(join(tmpdir(), 'berth-signing-upgrade-'));
after(() => rm(dataDir, { recursive: true, force: true }));

/** What migration 30 carried over, undone: the configuration back in named_documents, the migration unrecorded. */
function downgrade(path: string): void {
  const db = new Database(path);
  try {
    db.transaction(() => {
      const moved = db
        .prepare(
          `INSERT INTO named_documents (registry_id, kind, name, document, created_at, updated_at)
           SELECT registry_id, 'signing-config', 'registry', value, 1, 1 FROM registry_settings WHERE name = 'signing'`,
        )
        .run().changes;
      assert.equal(moved, 1);
      db.prepare(`DELETE FROM registry_settings WHERE name = 'signing'`).run();
      assert.equal(db.prepare('DELETE FROM schema_migrations WHERE version = 30').run().changes, 1);
    })();
  } finally {
    db.close();
  }
}

it('a signing configuration stored before the upgrade is answered and signs pushes after it', async () => {
  const first = await startInProcess({ sqliteFile: true, dataDir });
  let rules: SigningRule[] = [];
  try {
    const creds = adminCredentials(first);
    const made = await signedRest(first, creds, { method: 'PUT', path: '/signing-profiles/before_upgrade', body: { platformId: 'Notation-OCI-SHA384-ECDSA' } });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    rules = [{ signingProfileArn: String(made.json.arn), repositoryFilters: [{ filter: 'kept/*', filterType: 'WILDCARD_MATCH' }] }];
    const ecr = ecrClient(first, creds);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'kept/app' }));
    await ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules } }));
  } finally {
    await first.cleanup();
  }
  downgrade(join(dataDir, 'metadata.db'));

  const second = await startInProcess({ sqliteFile: true, dataDir });
  try {
    const ecr = ecrClient(second, adminCredentials(second));
    assert.deepEqual((await ecr.send(new GetSigningConfigurationCommand({}))).signingConfiguration, { rules });
    const config = Buffer.from('{"after":"upgrade"}');
    await pushBlob(second.url, 'kept/app', config);
    const manifest = configOnlyManifest(config);
    await ecr.send(new PutImageCommand({ repositoryName: 'kept/app', imageManifest: manifest, imageTag: 'v1' }));
    const digest = sha256(manifest);
    const statuses = await waitFor('the signing of the push', async () => {
      const s = (await ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: 'kept/app', imageId: { imageDigest: digest } }))).signingStatuses ?? [];
      return s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS') && s;
    });
    assert.deepEqual(statuses, [{ signingProfileArn: rules[0]!.signingProfileArn, status: 'COMPLETE' }]);
    const referrers = await request(`${second.url}/v2/kept/app/referrers/${digest}`);
    assert.equal((JSON.parse(referrers.body.toString()) as { manifests: unknown[] }).manifests.length, 1);
  } finally {
    await second.cleanup();
  }
});

it('a manifest push reads the registry settings once, whatever rules they hold', async () => {
  const berth = await startInProcess();
  try {
    const creds = adminCredentials(berth);
    const ecr = ecrClient(berth, creds);
    const made = await signedRest(berth, creds, { method: 'PUT', path: '/signing-profiles/one_read', body: { platformId: 'Notation-OCI-SHA384-ECDSA' } });
    await ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: String(made.json.arn) }] } }));
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'BASIC',
        rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'read/*', filterType: 'WILDCARD' }] }],
      }),
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'read/once' }));
    const config = Buffer.from('{"read":"once"}');
    await pushBlob(berth.url, 'read/once', config);
    // Counted on the store the registry core reads through (the real one; only observed).
    const meta = berth.app.registry.ctx.meta as { registrySettings: RegistrySettingsStore };
    const store = meta.registrySettings;
    const reads: string[] = [];
    meta.registrySettings = {
      ...store,
      get: (key, name) => {
        reads.push(`get ${name}`);
        return store.get(key, name);
      },
      all: (key) => {
        reads.push('all');
        return store.all(key);
      },
      put: (key, name, value) => store.put(key, name, value),
      delete: (key, name) => store.delete(key, name),
    };
    try {
      await ecr.send(new PutImageCommand({ repositoryName: 'read/once', imageManifest: configOnlyManifest(config), imageTag: 'v1' }));
    } finally {
      meta.registrySettings = store;
    }
    assert.deepEqual(
      reads.filter((r) => r === 'all' || /^get (scanning|replication|signing)$/.test(r)),
      ['all'],
    );
  } finally {
    await berth.cleanup();
  }
});
