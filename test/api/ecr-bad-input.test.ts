/**
 * A bad input for every ★ ECR operation not covered by a feature test, through
 * @aws-sdk/client-ecr: each gets ECR's exception and changes nothing.
 */
import {
  BatchCheckLayerAvailabilityCommand,
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DeleteRegistryPolicyCommand,
  DeleteRepositoryPolicyCommand,
  DescribeRegistryCommand,
  GetAuthorizationTokenCommand,
  GetLifecyclePolicyCommand,
  GetRegistryPolicyCommand,
  GetRegistryScanningConfigurationCommand,
  GetRepositoryPolicyCommand,
  ListImageReferrersCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageScanningConfigurationCommand,
  PutLifecyclePolicyCommand,
  PutRegistryPolicyCommand,
  UntagResourceCommand,
  UploadLayerPartCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';

const REPO_ARN = 'arn:aws:ecr:us-east-1:000000000000:repository/bad/input';

describe('ECR bad input', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'bad/input', tags: [{ Key: 'team', Value: 'a' }] }));
  });
  after(async () => berth?.cleanup());

  /** The SDK's own request with its JSON body replaced before signing. */
  function withBody(body: string): ECRClient {
    const c = ecrClient(berth);
    c.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: string; headers: Record<string, string> };
        request.body = body;
        request.headers['content-length'] = String(Buffer.byteLength(body));
        return next(args);
      },
      { step: 'build', name: 'replaceBody' },
    );
    return c;
  }

  const cases: Array<[string, () => Promise<unknown>, string, RegExp?]> = [
    [
      'BatchCheckLayerAvailability on a missing repository',
      () => ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'no/such', layerDigests: ['sha256:' + 'a'.repeat(64)] })),
      'RepositoryNotFoundException',
      /no\/such/,
    ],
    [
      'BatchCheckLayerAvailability with no digests',
      () => ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'bad/input', layerDigests: [] })),
      'ValidationException',
      /^1 validation error detected: Value '\[\]' at 'layerDigests' failed to satisfy constraint: Member must have length greater than or equal to 1$/,
    ],
    [
      'BatchGetRepositoryScanningConfiguration with a bad name',
      () => ecr.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: ['Bad Name'] })),
      'InvalidParameterException',
    ],
    [
      'GetLifecyclePolicy when there is none',
      () => ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'bad/input' })),
      'LifecyclePolicyNotFoundException',
    ],
    [
      'DeleteLifecyclePolicy when there is none',
      () => ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: 'bad/input' })),
      'LifecyclePolicyNotFoundException',
    ],
    [
      'PutLifecyclePolicy that is not JSON',
      () => ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'bad/input', lifecyclePolicyText: '{"rules":' + ' '.repeat(100) })),
      'InvalidParameterException',
    ],
    [
      'PutLifecyclePolicy with a rule missing its selection',
      () =>
        ecr.send(
          new PutLifecyclePolicyCommand({
            repositoryName: 'bad/input',
            lifecyclePolicyText: JSON.stringify({ rules: [{ rulePriority: 1, action: { type: 'expire' } }] }).padEnd(100),
          }),
        ),
      'InvalidParameterException',
    ],
    ['GetRegistryPolicy when there is none', () => ecr.send(new GetRegistryPolicyCommand({})), 'RegistryPolicyNotFoundException'],
    ['DeleteRegistryPolicy when there is none', () => ecr.send(new DeleteRegistryPolicyCommand({})), 'RegistryPolicyNotFoundException'],
    [
      'PutRegistryPolicy with a malformed document',
      () => ecr.send(new PutRegistryPolicyCommand({ policyText: '{"Statement":[{"Effect":"Perhaps"}]}' })),
      'InvalidParameterException',
    ],
    [
      'DeleteRepositoryPolicy when there is none',
      () => ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'bad/input' })),
      'RepositoryPolicyNotFoundException',
    ],
    [
      'GetAuthorizationToken for too many registries',
      () => ecr.send(new GetAuthorizationTokenCommand({ registryIds: Array.from({ length: 11 }, () => '000000000000') })),
      'ValidationException',
      /at 'registryIds' failed to satisfy constraint: Member must have length less than or equal to 10$/,
    ],
    [
      'ListImages with maxResults out of range',
      () => ecr.send(new ListImagesCommand({ repositoryName: 'bad/input', maxResults: 0 })),
      'ValidationException',
      /^1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1$/,
    ],
    [
      'ListImages with a forged nextToken',
      () => ecr.send(new ListImagesCommand({ repositoryName: 'bad/input', nextToken: 'not-a-token' })),
      'InvalidParameterException',
    ],
    [
      'PutImageScanningConfiguration on a missing repository',
      () => ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'no/such', imageScanningConfiguration: { scanOnPush: true } })),
      'RepositoryNotFoundException',
    ],
    [
      'UntagResource with a malformed ARN',
      () => ecr.send(new UntagResourceCommand({ resourceArn: 'arn:aws:s3:::bucket', tagKeys: ['team'] })),
      'InvalidParameterException',
    ],
    [
      'ListImageReferrers with a bad digest',
      () => ecr.send(new ListImageReferrersCommand({ repositoryName: 'bad/input', subjectId: { imageDigest: 'sha256:nope' } })),
      'InvalidParameterException',
    ],
    [
      'UploadLayerPart with a part that is not base64',
      () =>
        withBody(
          JSON.stringify({
            repositoryName: 'bad/input',
            uploadId: '00000000-0000-4000-8000-000000000000',
            partFirstByte: 0,
            partLastByte: 3,
            layerPartBlob: 'not base64!',
          }),
        ).send(new UploadLayerPartCommand({ repositoryName: 'bad/input', uploadId: 'x', partFirstByte: 0, partLastByte: 3, layerPartBlob: Buffer.alloc(4) })),
      'SerializationException',
      /^Unexpected value type at 'layerPartBlob': expected base64-encoded binary$/,
    ],
    ['DescribeRegistry with a body that is not JSON', () => withBody('{').send(new DescribeRegistryCommand({})), 'SerializationException'],
    [
      'GetRegistryScanningConfiguration with a body that is not an object',
      () => withBody('[]').send(new GetRegistryScanningConfigurationCommand({})),
      'SerializationException',
    ],
  ];

  for (const [label, call, type, message] of cases) {
    it(label, async () => {
      await assert.rejects(call(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, type, e.message);
        assert.equal(e.$metadata?.httpStatusCode, 400);
        if (message) assert.match(e.message, message);
        return true;
      });
    });
  }

  it('left everything as it was', async () => {
    await assert.rejects(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'bad/input' })), { name: 'LifecyclePolicyNotFoundException' });
    await assert.rejects(ecr.send(new GetRegistryPolicyCommand({})), { name: 'RegistryPolicyNotFoundException' });
    await assert.rejects(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'bad/input' })), { name: 'RepositoryPolicyNotFoundException' });
    assert.deepEqual((await ecr.send(new ListTagsForResourceCommand({ resourceArn: REPO_ARN }))).tags, [{ Key: 'team', Value: 'a' }]);
  });
});
