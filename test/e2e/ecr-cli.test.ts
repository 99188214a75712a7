/**
 * A typical ECR tutorial, command for command, with the real AWS CLI and skopeo against Berth:
 * create an immutable, scan-on-push, AES256 repository; log in with get-login-password; push;
 * pull; describe; list; put a lifecycle policy from a file; delete by tag; delete the repository
 * without and with --force. And what the aws CLI hears for the services Berth does not serve.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';

const run = promisify(execFile);

describe('the ECR tutorial with the AWS CLI', () => {
  let berth: BerthProcess;
  let env: NodeJS.ProcessEnv;
  let home: string;
  const aws = async (...args: string[]) => (await run('aws', ['ecr', ...args, '--output', 'json'], { env })).stdout;
  const awsFails = async (...args: string[]) => {
    try {
      await run('aws', ['ecr', ...args], { env });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    assert.fail(`aws ecr ${args.join(' ')} succeeded`);
  };
  const skopeo = (...args: string[]) =>
    run('skopeo', ['--policy', join(home, 'policy.json'), ...args], {
      env: { PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') },
    });

  before(async () => {
    berth = await startBerth();
    env = awsCliEnv(berth);
    home = await tempDir('berth-tutorial-');
    await mkdir(join(home, 'tmp'));
    await writeFile(join(home, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  });
  after(async () => berth?.cleanup());

  it('runs end to end', async () => {
    const created = JSON.parse(
      await aws(
        'create-repository',
        '--repository-name',
        'tutorial/web',
        '--image-tag-mutability',
        'IMMUTABLE',
        '--image-scanning-configuration',
        'scanOnPush=true',
        '--encryption-configuration',
        'encryptionType=AES256',
      ),
    ) as { repository: { repositoryUri: string; imageTagMutability: string; imageScanningConfiguration: { scanOnPush: boolean } } };
    assert.equal(created.repository.repositoryUri, `${berth.host}/tutorial/web`);
    assert.equal(created.repository.imageTagMutability, 'IMMUTABLE');
    assert.equal(created.repository.imageScanningConfiguration.scanOnPush, true);

    // aws ecr get-login-password | skopeo login --username AWS --password-stdin <host>
    const password = (await run('aws', ['ecr', 'get-login-password'], { env })).stdout.trim();
    await new Promise<void>((resolve, reject) => {
      const login = spawn('skopeo', ['login', '--tls-verify=false', '--username', 'AWS', '--password-stdin', berth.host], {
        env: { PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let err = '';
      login.stderr.on('data', (d: Buffer) => (err += d.toString()));
      login.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo login: ${err}`))));
      login.stdin.end(password + '\n');
    });

    const layout = join(home, 'image');
    const built = await buildImageLayout(layout, { layers: 2, layerBytes: 200_000, tag: 'v1' });
    await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${berth.host}/tutorial/web:v1`);
    await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${berth.host}/tutorial/web:v2`);
    await skopeo('copy', '-q', '--src-tls-verify=false', `docker://${berth.host}/tutorial/web:v1`, `oci:${join(home, 'pulled')}:v1`);

    const repos = JSON.parse(await aws('describe-repositories')) as { repositories: Array<{ repositoryName: string }> };
    assert.deepEqual(
      repos.repositories.map((r) => r.repositoryName),
      ['tutorial/web'],
    );
    const listed = JSON.parse(await aws('list-images', '--repository-name', 'tutorial/web')) as { imageIds: Array<{ imageTag: string; imageDigest: string }> };
    assert.deepEqual(listed.imageIds.map((i) => i.imageTag).sort(), ['v1', 'v2']);
    assert.ok(listed.imageIds.every((i) => i.imageDigest === built.manifestDigest));
    const table = (
      await run(
        'aws',
        ['ecr', 'describe-images', '--repository-name', 'tutorial/web', '--query', 'imageDetails[].[imageTags[0],imageSizeInBytes]', '--output', 'table'],
        { env },
      )
    ).stdout;
    assert.match(table, /DescribeImages/);
    assert.match(table, /v1|v2/);

    const policy = {
      rules: [
        {
          rulePriority: 1,
          description: 'drop untagged after a day',
          selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 },
          action: { type: 'expire' },
        },
        { rulePriority: 2, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 100 }, action: { type: 'expire' } },
      ],
    };
    await writeFile(join(home, 'policy-lifecycle.json'), JSON.stringify(policy));
    await aws('put-lifecycle-policy', '--repository-name', 'tutorial/web', '--lifecycle-policy-text', `file://${join(home, 'policy-lifecycle.json')}`);
    const stored = JSON.parse(await aws('get-lifecycle-policy', '--repository-name', 'tutorial/web')) as { lifecyclePolicyText: string };
    assert.deepEqual(JSON.parse(stored.lifecyclePolicyText), policy);
    await writeFile(join(home, 'bad-lifecycle.json'), JSON.stringify({ rules: [{ ...policy.rules[1], rulePriority: 0 }] }).padEnd(120, ' '));
    assert.match(
      await awsFails('put-lifecycle-policy', '--repository-name', 'tutorial/web', '--lifecycle-policy-text', `file://${join(home, 'bad-lifecycle.json')}`),
      /InvalidParameterException.*Lifecycle policy validation failure: numeric instance is lower than the required minimum/,
    );

    assert.match(await awsFails('delete-repository', '--repository-name', 'tutorial/web'), /RepositoryNotEmptyException/);
    const deleted = JSON.parse(await aws('batch-delete-image', '--repository-name', 'tutorial/web', '--image-ids', 'imageTag=v1')) as {
      imageIds: unknown[];
      failures: unknown[];
    };
    assert.equal(deleted.imageIds.length, 1);
    assert.deepEqual(deleted.failures, []);
    const gone = JSON.parse(await aws('delete-repository', '--repository-name', 'tutorial/web', '--force')) as { repository: { repositoryName: string } };
    assert.equal(gone.repository.repositoryName, 'tutorial/web');
    assert.match(await awsFails('describe-repositories', '--repository-names', 'tutorial/web'), /RepositoryNotFoundException/);
  });

  it('answers what Berth does not implement with the error its protocol expects', async () => {
    const fails = async (args: string[]) => {
      try {
        await run('aws', args, { env });
      } catch (e) {
        return (e as { stderr: string }).stderr;
      }
      return assert.fail(`aws ${args.join(' ')} succeeded`);
    };
    // A JSON service Berth does not serve, a Query service it does not serve (it serves all of ECR's operations).
    assert.match(await fails(['dynamodb', 'list-tables']), /\(UnknownOperationException\) when calling the ListTables operation/);
    const ec2 = await fails(['ec2', 'describe-instances']);
    assert.match(ec2, /\(InvalidAction\) when calling the DescribeInstances operation: The action DescribeInstances is not valid for this web service/);
    assert.doesNotMatch(ec2, /Signature/);
  });
});
