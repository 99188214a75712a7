/**
 * BatchGetImage's answer is bounded by its manifests' bytes, not by its count of ids: a request
 * of a few KiB naming one 4 MiB manifest 100 times once built 400 MiB of manifests, and a
 * manifest of quotes (doubled as JSON) took the answer past V8's longest string: a 500.
 * Past 64 MiB the call is refused with LimitExceededException; fewer images are answered.
 */
import { BatchGetImageCommand, CreateRepositoryCommand, type ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('BatchGetImage of many large manifests', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  const repositoryName = 'bound/batch';

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth, adminCredentials(berth));
    await admin.send(new CreateRepositoryCommand({ repositoryName }));
    const config = Buffer.from('{"bound":1}');
    await pushBlob(berth.url, repositoryName, config);
    // Just under 4 MiB, nearly all quotes: each doubles as JSON, in the manifest and again in the answer.
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
      annotations: { quotes: '"'.repeat(2_000_000) },
    });
    await admin.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: 'big' }));
  });
  after(async () => berth?.cleanup());

  const get = (n: number) => admin.send(new BatchGetImageCommand({ repositoryName, imageIds: Array.from({ length: n }, () => ({ imageTag: 'big' })) }));

  it('naming a 4 MiB manifest 100 times is LimitExceededException (400), not a 500', async () => {
    await assert.rejects(get(100), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'LimitExceededException');
      assert.equal(e.$metadata?.httpStatusCode, 400);
      assert.match(e.message, /request fewer images/);
      return true;
    });
  });

  it('fewer of them are answered', async () => {
    const got = await get(2);
    assert.equal(got.images?.length, 2);
    assert.equal(got.images?.[0]?.imageManifest?.length, got.images?.[1]?.imageManifest?.length);
  });
});
