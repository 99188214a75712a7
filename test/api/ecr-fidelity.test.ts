/**
 * The ECR JSON API answering as ECR does, checked against the botocore service model with
 * @aws-sdk/client-ecr (which validates nothing client-side), against the real app in process:
 * model-constraint failures in ECR's words, bounded numbers, lastEvaluatedAt, PutImage of a
 * manifest whose type only the request names. What the aws CLI hears for what Berth does not
 * implement is in test/e2e/ecr-cli.test.ts.
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  ListImagesCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

function rejectsWith(p: Promise<unknown>, name: string, message: string | RegExp): Promise<void> {
  return assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name, e.message);
    assert.equal(e.$metadata?.httpStatusCode, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('ECR JSON API fidelity', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'fidelity/app' }));
  });
  after(async () => berth?.cleanup());

  it('answers a model-constraint failure with ValidationException in ECR words, creating nothing', async () => {
    await rejectsWith(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'fidelity/enum', imageTagMutability: 'x' as 'MUTABLE' })),
      'ValidationException',
      "1 validation error detected: Value 'x' at 'imageTagMutability' failed to satisfy constraint: Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]",
    );
    await rejectsWith(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'a'.repeat(257) })),
      'ValidationException',
      `1 validation error detected: Value '${'a'.repeat(256)}...' at 'repositoryName' failed to satisfy constraint: Member must have length less than or equal to 256`,
    );
    await rejectsWith(
      ecr.send(new CreateRepositoryCommand({ registryId: '12345', repositoryName: 'fidelity/reg' })),
      'ValidationException',
      "1 validation error detected: Value '12345' at 'registryId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}",
    );
    const names = ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);
    assert.deepEqual(names, ['fidelity/app']);
  });

  it('lists every failed constraint, in one message', async () => {
    await rejectsWith(
      ecr.send(new DescribeImagesCommand({ repositoryName: 'a', maxResults: 1001, filter: { tagStatus: 'SOME' as 'ANY' } })),
      'ValidationException',
      "3 validation errors detected: Value 'a' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to 2; " +
        "Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000; " +
        "Value 'SOME' at 'filter.tagStatus' failed to satisfy constraint: Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]",
    );
    await rejectsWith(
      ecr.send(new BatchGetImageCommand({ repositoryName: 'fidelity/app', imageIds: [{ imageTag: '' }] })),
      'ValidationException',
      "1 validation error detected: Value '' at 'imageIds.1.member.imageTag' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    // ECR's own rules beyond the model keep their own exception.
    await rejectsWith(
      ecr.send(new ListImagesCommand({ repositoryName: 'Bad Name' })),
      'InvalidParameterException',
      /^Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression/,
    );
  });

  it('bounds numbers: maxResults of 1e20, a lifecycle countNumber of 1e20', async () => {
    await rejectsWith(
      ecr.send(new ListImagesCommand({ repositoryName: 'fidelity/app', maxResults: 1e20 })),
      'ValidationException',
      "1 validation error detected: Value '100000000000000000000' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
    );
    const policy = JSON.stringify({
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1e20 }, action: { type: 'expire' } }],
    });
    await rejectsWith(
      ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'fidelity/app', lifecyclePolicyText: policy })),
      'InvalidParameterException',
      /Lifecycle policy validation failure: numeric instance is greater than the required maximum \(maximum: 2147483647, found: 100000000000000000000\)/,
    );
    await rejectsWith(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'fidelity/app' })), 'LifecyclePolicyNotFoundException', /fidelity\/app/);
  });

  it('returns lastEvaluatedAt from Get/DeleteLifecyclePolicy, the epoch before any evaluation', async () => {
    const policy = JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: 'keep ten',
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 },
          action: { type: 'expire' },
        },
      ],
    });
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'fidelity/app', lifecyclePolicyText: policy }));
    const got = await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'fidelity/app' }));
    assert.equal(got.lastEvaluatedAt?.getTime(), 0);
    const deleted = await ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: 'fidelity/app' }));
    assert.equal(deleted.lastEvaluatedAt?.getTime(), 0);
    assert.equal(deleted.lifecyclePolicyText, policy);
  });

  it('PutImage takes a manifest without mediaType when imageManifestMediaType names it', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.from('a layer with no type in its manifest');
    for (const blob of [config, layer]) assert.equal((await pushBlob(berth.url, 'fidelity/app', blob)).status, 201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: DOCKER.config, digest: sha256(config), size: config.length },
      layers: [{ mediaType: DOCKER.layer, digest: sha256(layer), size: layer.length }],
    });
    const put = await ecr.send(
      new PutImageCommand({ repositoryName: 'fidelity/app', imageManifest: manifest, imageManifestMediaType: DOCKER.manifest, imageTag: 'untyped' }),
    );
    assert.equal(put.image?.imageId?.imageDigest, sha256(manifest));
    assert.equal(put.image?.imageManifestMediaType, DOCKER.manifest);
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'fidelity/app', imageIds: [{ imageTag: 'untyped' }] }));
    assert.equal(got.images?.[0]?.imageManifest, manifest);
    assert.equal(got.images?.[0]?.imageManifestMediaType, DOCKER.manifest);
  });
});
