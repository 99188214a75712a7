/**
 * Managed signing's statuses go with their image: once an image is deleted (BatchDeleteImage,
 * /v2 DELETE, lifecycle expiry, its repository's forced delete) DescribeImageSigningStatus
 * answers ImageNotFoundException, and the statuses are gone from the store, so none comes back
 * when the same manifest is pushed again under no signing rule.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DeleteSigningConfigurationCommand,
  DescribeImageSigningStatusCommand,
  type ECRClient,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  PutSigningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { registryKey } from '../../src/core/registry-key.js';
import { signingStatusPrefix } from '../../src/metadata/signing-statuses.js';
import type { Digest } from '../../src/core/digest.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { configOnlyManifest, pushBlob, request, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedRest } from './helpers/signed-rest.js';

describe('signing statuses after the image is deleted', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  let profileArn: string;
  let account: string;
  let n = 0;

  before(async () => {
    // Lifecycle policies are evaluated every second here (one test expires an image).
    berth = await startInProcess({ env: { BERTH_LIFECYCLE_INTERVAL_SECONDS: '1' } });
    const creds = adminCredentials(berth);
    ecr = ecrClient(berth, creds);
    const made = await signedRest(berth, creds, { method: 'PUT', path: '/signing-profiles/deletes', body: { platformId: 'Notation-OCI-SHA384-ECDSA' } });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    profileArn = String(made.json.arn);
    account = profileArn.split(':')[4]!;
  });
  after(async () => berth?.cleanup());

  const describeStatus = async (repo: string, digest: string) =>
    (await ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: repo, imageId: { imageDigest: digest } }))).signingStatuses ?? [];
  const stored = async (repo: string, digest: string) =>
    (
      await berth.app.registry.ctx.meta.documents.list(registryKey(account, berth.region), 'signing-status', {
        limit: 10,
        prefix: signingStatusPrefix(repo, digest as Digest),
      })
    ).length;

  /** Pushes a new image to `repo` under a rule signing every repository, and waits for its signature. */
  async function pushSigned(repo: string, tag: string) {
    await ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: profileArn }] } }));
    const config = Buffer.from(JSON.stringify({ image: n++, repo }));
    await pushBlob(berth.url, repo, config);
    const manifest = configOnlyManifest(config);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, imageTag: tag }));
    const digest = sha256(manifest);
    const settled = await waitFor(`the signing of ${digest}`, async () => {
      const s = await describeStatus(repo, digest);
      return s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS') && s;
    });
    assert.deepEqual(settled, [{ signingProfileArn: profileArn, status: 'COMPLETE' }]);
    await ecr.send(new DeleteSigningConfigurationCommand({}));
    return { digest, manifest, config };
  }

  /** After the delete: ImageNotFound, nothing stored, and the same manifest pushed again (no rule now) has no status. */
  async function assertForgotten(repo: string, image: { digest: string; manifest: string; config: Buffer }) {
    await assert.rejects(describeStatus(repo, image.digest), { name: 'ImageNotFoundException' });
    assert.equal(await stored(repo, image.digest), 0, 'no status row left');
    await pushBlob(berth.url, repo, image.config);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: image.manifest, imageTag: 'again' }));
    assert.deepEqual(await describeStatus(repo, image.digest), []);
  }

  it('BatchDeleteImage removes the image’s statuses', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/batch' }));
    const image = await pushSigned('del/batch', 'v1');
    const other = await pushSigned('del/batch', 'v2');
    const res = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'del/batch', imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(res.failures, []);
    await assertForgotten('del/batch', image);
    assert.deepEqual(await describeStatus('del/batch', other.digest), [{ signingProfileArn: profileArn, status: 'COMPLETE' }], 'another image keeps its own');
  });

  it('a /v2 DELETE of the manifest removes its statuses', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/v2' }));
    const image = await pushSigned('del/v2', 'v1');
    const res = await request(`${berth.url}/v2/del/v2/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await assertForgotten('del/v2', image);
  });

  it('lifecycle expiry removes the expired image’s statuses', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/lifecycle' }));
    const older = await pushSigned('del/lifecycle', 'old-1');
    const newer = await pushSigned('del/lifecycle', 'old-2');
    await ecr.send(
      new PutLifecyclePolicyCommand({
        repositoryName: 'del/lifecycle',
        lifecyclePolicyText: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              selection: { tagStatus: 'tagged', tagPrefixList: ['old-'], countType: 'imageCountMoreThan', countNumber: 1 },
              action: { type: 'expire' },
            },
          ],
        }),
      }),
    );
    await waitFor('the lifecycle run to expire the older image', () =>
      describeStatus('del/lifecycle', older.digest).then(
        () => false,
        (e: Error) => e.name === 'ImageNotFoundException',
      ),
    );
    await assertForgotten('del/lifecycle', older);
    assert.deepEqual(await describeStatus('del/lifecycle', newer.digest), [{ signingProfileArn: profileArn, status: 'COMPLETE' }]);
  });

  it('a forced DeleteRepository removes the statuses of all its images, not those of a repository named alike', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/repo' }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/repo2' }));
    const a = await pushSigned('del/repo', 'v1');
    const b = await pushSigned('del/repo', 'v2');
    const alike = await pushSigned('del/repo2', 'v1');
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'del/repo', force: true }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'del/repo' }));
    await assertForgotten('del/repo', a);
    await assertForgotten('del/repo', b);
    assert.deepEqual(await describeStatus('del/repo2', alike.digest), [{ signingProfileArn: profileArn, status: 'COMPLETE' }]);
  });
});
