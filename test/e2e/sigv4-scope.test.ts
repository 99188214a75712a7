/**
 * The aws CLI signing for a region other than the server's, against a spawned Berth: refused,
 * creating nothing; signed for the server's region, the JSON API and /v2 address the same
 * registry. The rest of what a signature must cover is tested in process, in
 * test/api/sigv4-scope.test.ts.
 */
import { DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { makeImage, pushImage } from './helpers/gc.js';

const run = promisify(execFile);

async function awsFails(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  try {
    await run('aws', args, { env });
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  return assert.fail(`aws ${args.join(' ')} succeeded`);
}

const repositoryNames = async (ecr: ECRClient) => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

describe('SigV4: the region of the signature', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth({ env: { BERTH_REGION: 'ap-south-1' } });
  });
  after(async () => berth?.cleanup());

  it('the aws CLI with --region of another region is refused and creates nothing', async () => {
    const env = awsCliEnv(berth);
    const stderr = await awsFails(env, ['ecr', 'create-repository', '--repository-name', 'elsewhere/app', '--region', 'us-east-1']);
    assert.match(stderr, /InvalidSignatureException/);
    assert.match(stderr, /Credential should be scoped to a valid region, not 'us-east-1'/);
    assert.deepEqual(await repositoryNames(ecrClient(berth)), []);
  });

  it('the JSON API and /v2 address the same registry: the server region', async () => {
    const env = awsCliEnv(berth);
    const created = JSON.parse(
      (await run('aws', ['ecr', 'create-repository', '--repository-name', 'south/app', '--region', 'ap-south-1', '--output', 'json'], { env })).stdout,
    ) as {
      repository: { repositoryArn: string };
    };
    assert.match(created.repository.repositoryArn, /^arn:aws:ecr:ap-south-1:\d{12}:repository\/south\/app$/);
    const img = makeImage('south/app', 'v1', [Buffer.from('layer of the south')]);
    await pushImage(berth.url, img);
    const described = JSON.parse(
      (await run('aws', ['ecr', 'describe-images', '--repository-name', 'south/app', '--region', 'ap-south-1', '--output', 'json'], { env })).stdout,
    ) as {
      imageDetails: Array<{ imageDigest: string; imageTags: string[] }>;
    };
    assert.deepEqual(
      described.imageDetails.map((d) => [d.imageDigest, d.imageTags]),
      [[img.digest, ['v1']]],
    );
  });
});
