/**
 * `deleteEnabled: false` (BERTH_DELETE_ENABLED): every delete of content is refused, through
 * either door, and nothing is deleted; the refusal on /v2 is a 405 that names what the route
 * still answers. Cancelling an upload is not a delete of content and still works.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { errorCode, getBlob, getManifest, pushBlob, pushManifest, request, sha256, startUpload } from '../e2e/helpers/registry-http.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('deletes turned off', () => {
  let berth: BerthInProcess;
  let base: string;
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(100);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  before(async () => {
    berth = await startInProcess({ env: { BERTH_DELETE_ENABLED: 'false' } });
    base = berth.url;
    for (const b of [config, layer]) assert.equal((await pushBlob(base, 'keep/app', b)).status, 201);
    assert.equal((await pushManifest(base, 'keep/app', 'v1', manifest, OCI_MANIFEST)).status, 201);
  });
  after(async () => berth?.cleanup());

  it('a /v2 DELETE of a tag, a manifest or a blob is 405 UNSUPPORTED with Allow, and deletes nothing', async () => {
    for (const [path, allow] of [
      ['/v2/keep/app/manifests/v1', 'GET, HEAD, PUT'],
      [`/v2/keep/app/manifests/${sha256(manifest)}`, 'GET, HEAD, PUT'],
      [`/v2/keep/app/blobs/${sha256(layer)}`, 'GET, HEAD'],
    ]) {
      const r = await request(`${base}${path}`, { method: 'DELETE' });
      assert.equal(r.status, 405, path);
      assert.equal(errorCode(r), 'UNSUPPORTED', path);
      assert.equal(r.headers.get('allow'), allow, path);
    }
    assert.deepEqual((await getManifest(base, 'keep/app', 'v1')).body, manifest);
    assert.deepEqual((await getBlob(base, 'keep/app', sha256(layer))).body, layer);
  });

  it('BatchDeleteImage is refused and deletes nothing', async () => {
    await assert.rejects(ecrClient(berth).send(new BatchDeleteImageCommand({ repositoryName: 'keep/app', imageIds: [{ imageTag: 'v1' }] })), (e: Error) => {
      assert.equal(e.name, 'InvalidParameterException');
      return true;
    });
    assert.equal((await getManifest(base, 'keep/app', 'v1')).status, 200);
  });

  it('cancelling an upload session still works: it deletes no content', async () => {
    const session = await startUpload(base, 'keep/app');
    assert.equal((await request(session, { method: 'DELETE' })).status, 204);
    assert.equal(errorCode(await request(session)), 'BLOB_UPLOAD_UNKNOWN');
  });
});
