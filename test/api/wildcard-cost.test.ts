/**
 * Patterns a user writes, matched against values a request brings, that once made a backtracking
 * RegExp run for hours: `*a*a…*b` in an IAM Resource against a long repository ARN, in a tag
 * immutability exclusion filter against a long tag, in a scanning filter against a long
 * repository name; and a scanning filter that ECR's own pattern checks in exponential time.
 * Each request here answers as AWS does, at once. No timing is asserted: without the linear
 * matcher (core/wildcard.ts) these requests do not end (the run's timeout fails them).
 */
import {
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  type ECRClient,
  GetRegistryScanningConfigurationCommand,
  ListImagesCommand,
  PutImageCommand,
  PutRegistryScanningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

/** `*a*a…*a*b`: `stars` wildcards, each of which a RegExp would try at every position. */
const hostile = (stars: number) => `${'*a'.repeat(stars - 1)}*b`;
const LONG = 'a'.repeat(200);

async function refusal(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail('the call was accepted');
}

describe('wildcards that would make a RegExp backtrack', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth, adminCredentials(berth));
  });
  after(async () => berth?.cleanup());

  it('an IAM Resource of 16 wildcards decides against a 250-character ARN: allowed where it matches, denied where not', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ecr:ListImages', Resource: `arn:aws:ecr:*:*:repository/${hostile(16)}` }],
    };
    const user = await createUser(berth, iam, 'globber', [], [policy]);
    await admin.send(new CreateRepositoryCommand({ repositoryName: LONG }));
    await admin.send(new CreateRepositoryCommand({ repositoryName: `${LONG}b` }));
    const listed = await user.ecr.send(new ListImagesCommand({ repositoryName: `${LONG}b` }));
    assert.deepEqual(listed.imageIds, []);
    const r = await refusal(user.ecr.send(new ListImagesCommand({ repositoryName: LONG })));
    assert.equal(r.name, 'AccessDeniedException');
  });

  it('a tag immutability exclusion filter of 60 wildcards: a 128-character tag it does not match stays immutable', async () => {
    const repo = 'cost/immutable';
    const filter = hostile(60);
    assert.ok(filter.length <= 128, 'within the model');
    await admin.send(
      new CreateRepositoryCommand({
        repositoryName: repo,
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter }],
      }),
    );
    const tag = 'a'.repeat(128);
    const put = async (n: number) => {
      const config = Buffer.from(`{"n":${n}}`);
      await pushBlob(berth.url, repo, config);
      return admin.send(new PutImageCommand({ repositoryName: repo, imageManifest: configOnlyManifest(config), imageTag: tag }));
    };
    await put(1);
    const r = await refusal(put(2));
    assert.equal(r.name, 'ImageTagAlreadyExistsException');
  });

  it("a scanning filter that ECR's pattern would check in exponential time is refused, and the configuration is unchanged", async () => {
    const before = await admin.send(new GetRegistryScanningConfigurationCommand({}));
    const r = await refusal(
      admin.send(
        new PutRegistryScanningConfigurationCommand({
          scanType: 'BASIC',
          rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filterType: 'WILDCARD', filter: `${'a'.repeat(60)}!` }] }],
        }),
      ),
    );
    assert.equal(r.name, 'ValidationException');
    assert.match(r.message, /\^\[a-z0-9\*\]\(\?:\[\._\\-\/a-z0-9\*\]\?\[a-z0-9\*\]\+\)\*\$/, "the refusal quotes ECR's pattern");
    const after = await admin.send(new GetRegistryScanningConfigurationCommand({}));
    assert.deepEqual(after.scanningConfiguration, before.scanningConfiguration);
  });

  it('a scanning filter of 100 wildcards against a 200-character repository name applies where it matches only', async () => {
    const [miss, hit] = [`scan/${LONG}`, `scan/${LONG}b`];
    for (const repositoryName of [miss, hit]) await admin.send(new CreateRepositoryCommand({ repositoryName }));
    await admin.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'BASIC',
        rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filterType: 'WILDCARD', filter: hostile(100) }] }],
      }),
    );
    const got = await admin.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: [miss, hit] }));
    const frequency = (name: string) => got.scanningConfigurations?.find((c) => c.repositoryName === name)?.scanFrequency;
    assert.equal(frequency(miss), 'MANUAL');
    assert.equal(frequency(hit), 'SCAN_ON_PUSH');
  });
});
