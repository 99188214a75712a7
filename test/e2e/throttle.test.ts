/**
 * API throttling through real clients (BERTH_API_RATES): a call past its account's rate is
 * ThrottlingException on the JSON API and 429 TOOMANYREQUESTS with Retry-After on /v2, the AWS
 * CLI's retries get every call of a burst through, and another account's bucket is its own.
 * Rates are chosen so that the outcome does not depend on how fast the machine is: one call per
 * minute for the calls that must be refused, and a slow rate for the CLI burst.
 */
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createAccount, otherAccountIdentity } from './helpers/iam-users.js';
import { errorCode, getManifest, pushBlob, pushManifest, sha256 } from './helpers/registry-http.js';

const run = promisify(execFile);
const PER_MINUTE = 1 / 60;

describe('API throttling', () => {
  let berth: BerthProcess;

  before(async () => {
    berth = await startBerth({
      env: { BERTH_API_RATES: JSON.stringify({ DescribeRepositories: PER_MINUTE, BatchGetImage: PER_MINUTE, ListImages: 0.5 }) },
    });
  });
  after(async () => berth?.cleanup());

  it("ThrottlingException past an account's rate; another account is not slowed", async () => {
    const ecr = ecrClient(berth);
    await ecr.send(new DescribeRepositoriesCommand({}));
    await assert.rejects(ecr.send(new DescribeRepositoriesCommand({})), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'ThrottlingException');
      assert.equal(e.$metadata?.httpStatusCode, 400);
      assert.match(e.message, /Rate exceeded for DescribeRepositories/);
      return true;
    });
    await createAccount(berth, '222233334444');
    const other = await otherAccountIdentity(berth, '222233334444');
    // Its own bucket is full: the first account's empty one does not matter.
    assert.deepEqual((await other.ecr.send(new DescribeRepositoriesCommand({}))).repositories, []);
  });

  it('the AWS CLI retries ThrottlingException until each call of a burst gets through', async () => {
    await pushBlob(berth.url, 'burst/app', Buffer.from('{}'));
    const env = { ...awsCliEnv(berth), AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '12' };
    // 0.5 calls per second, burst 1: four concurrent calls cannot all pass at once.
    const calls = await Promise.all(
      Array.from({ length: 4 }, () => run('aws', ['ecr', 'list-images', '--repository-name', 'burst/app', '--output', 'json', '--debug'], { env })),
    );
    for (const c of calls) assert.deepEqual(JSON.parse(c.stdout), { imageIds: [] });
    const throttled = calls.filter((c) => /ThrottlingException/.test(c.stderr)).length;
    assert.ok(throttled >= 1, 'at least one call was throttled and retried');
  });

  it('429 TOOMANYREQUESTS with Retry-After on /v2', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    assert.equal((await pushBlob(berth.url, 'burst/v2', config)).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [],
      }),
    );
    assert.equal((await pushManifest(berth.url, 'burst/v2', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json')).status, 201);
    assert.equal((await getManifest(berth.url, 'burst/v2', 'v1')).status, 200);
    const refused = await getManifest(berth.url, 'burst/v2', 'v1');
    assert.equal(refused.status, 429);
    assert.equal(errorCode(refused), 'TOOMANYREQUESTS');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers.get('retry-after')}`);
  });
});
