/**
 * Managed signing as a user sets it up with the real AWS CLI and skopeo: `aws signer
 * put-signing-profile` for a Notation profile, `aws ecr put-signing-configuration`, a skopeo
 * push, then `aws ecr describe-image-signing-status` until the signature is made, and skopeo
 * listing the signature beside the image (the referrers' tag-less manifest in the repository).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);

describe('managed signing with the AWS CLI and skopeo', () => {
  let berth: BerthProcess;
  let env: NodeJS.ProcessEnv;
  let home: string;
  const aws = async (...args: string[]) => JSON.parse((await run('aws', [...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
  const awsFails = async (...args: string[]) => {
    try {
      await run('aws', args, { env });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  const skopeoEnv = () => ({ PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') });

  before(async () => {
    berth = await startBerth();
    env = awsCliEnv(berth);
    home = await tempDir('berth-signing-');
    await writeFile(join(home, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  });
  after(async () => berth?.cleanup());

  it('signs a skopeo push under a rule naming a profile made with aws signer', async () => {
    const profile = await aws('signer', 'put-signing-profile', '--profile-name', 'ci_release', '--platform-id', 'Notation-OCI-SHA384-ECDSA');
    const arn = String(profile.arn);
    assert.match(arn, /^arn:aws:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/ci_release$/);
    assert.equal(profile.profileVersionArn, `${arn}/${String(profile.profileVersion)}`);
    const got = await aws('signer', 'get-signing-profile', '--profile-name', 'ci_release');
    assert.equal(got.status, 'Active');
    assert.equal(got.platformId, 'Notation-OCI-SHA384-ECDSA');
    assert.deepEqual(got.signatureValidityPeriod, { value: 135, type: 'MONTHS' });
    assert.match(await awsFails('signer', 'get-signing-profile', '--profile-name', 'nobody_here'), /\(ResourceNotFoundException\)/);

    assert.match(await awsFails('ecr', 'get-signing-configuration'), /\(SigningConfigurationNotFoundException\)/);
    await aws('ecr', 'put-signing-configuration', '--signing-configuration', JSON.stringify({ rules: [{ signingProfileArn: arn }] }));
    await aws('ecr', 'create-repository', '--repository-name', 'ci/app');

    const password = (await run('aws', ['ecr', 'get-login-password'], { env })).stdout.trim();
    await new Promise<void>((resolve, reject) => {
      const login = spawn('skopeo', ['login', '--tls-verify=false', '--username', 'AWS', '--password-stdin', berth.host], {
        env: skopeoEnv(),
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let err = '';
      login.stderr.on('data', (d: Buffer) => (err += d.toString()));
      login.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo login: ${err}`))));
      login.stdin.end(`${password}\n`);
    });
    const layout = join(home, 'image');
    await buildImageLayout(layout, { layers: 1, layerBytes: 10_000, tag: 'v1' });
    await run(
      'skopeo',
      ['--policy', join(home, 'policy.json'), 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${berth.host}/ci/app:v1`],
      {
        env: skopeoEnv(),
      },
    );

    const described = await waitFor('the image to be signed', async () => {
      const out = await aws('ecr', 'describe-image-signing-status', '--repository-name', 'ci/app', '--image-id', 'imageTag=v1');
      const statuses = out.signingStatuses as Array<{ status: string }>;
      return statuses.length > 0 && statuses[0]!.status !== 'IN_PROGRESS' && out;
    });
    assert.deepEqual(described.signingStatuses, [{ signingProfileArn: arn, status: 'COMPLETE' }]);
    const images = (await aws('ecr', 'describe-images', '--repository-name', 'ci/app')).imageDetails as Array<{
      artifactMediaType?: string;
      imageTags?: string[];
    }>;
    assert.equal(images.length, 2, 'the image and its signature');

    const listed = (await aws('signer', 'list-signing-profiles')).profiles as Array<{ profileName: string }>;
    assert.deepEqual(
      listed.map((p) => p.profileName),
      ['ci_release'],
    );
    await aws('signer', 'cancel-signing-profile', '--profile-name', 'ci_release');
    assert.deepEqual((await aws('signer', 'list-signing-profiles')).profiles, []);
    const all = (await aws('signer', 'list-signing-profiles', '--include-canceled')).profiles as Array<{ status: string }>;
    assert.deepEqual(
      all.map((p) => p.status),
      ['Canceled'],
    );
  });
});
