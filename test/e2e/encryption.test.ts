/**
 * Encryption at rest on the local disk, through real clients: skopeo pushes and pulls, the ECR
 * SDK creates repositories with encryptionConfiguration, `berth admin` manages KMS keys. What the
 * disk holds is checked directly: no pushed byte sequence appears in any file under the data
 * directory, and each KMS key's blobs sit in its own store.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { berthCli } from './helpers/gc.js';
import { buildImageLayout, hashFile, blobPath, type BuiltImage } from './helpers/oci-layout.js';
import { errorCode, getBlob, pushBlob, request, sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Files under `dir` containing `needle` anywhere. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const hits: string[] = [];
  for (const f of await filesUnder(dir)) if ((await readFile(f)).includes(needle)) hits.push(f);
  return hits;
}

/** 48 bytes from the middle of a blob: random data, so found on disk only if stored in the clear. */
const sample = (data: Buffer) => data.subarray(data.length >> 1, (data.length >> 1) + 48);

describe('encryption at rest on the local disk', () => {
  let berth: BerthProcess;
  let ecr: ECRClient;
  let skopeo: Skopeo;
  let src: string;
  let image: BuiltImage;
  const admin = async (...args: string[]) =>
    JSON.parse((await berthCli(['admin', ...args, '--data-dir', berth.dataDir])).stdout) as { KeyMetadata: Record<string, unknown> };
  const docker = (ref: string) => `docker://${berth.host}/${ref}`;

  before(async () => {
    // Key state is cached for authzCacheSeconds; 0 makes a disable from the shell take effect at once.
    berth = await startBerth({ env: { BERTH_AUTHZ_CACHE_SECONDS: '0' } });
    ecr = ecrClient(berth);
    skopeo = await createSkopeo();
    src = await tempDir('berth-enc-src-');
    image = await buildImageLayout(src, { layers: 2, layerBytes: [300_000, 70_000], tag: 'app' });
  });
  after(async () => {
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  async function layerBytes(digest: string): Promise<Buffer> {
    return readFile(blobPath(src, digest));
  }

  it("stores an AES256 repository's blobs sealed: nothing pushed appears on disk, and it pulls back whole", async () => {
    await skopeo.copy(`oci:${src}:app`, docker('plain/app:v1'), ['--preserve-digests']);
    for (const l of image.layers) {
      assert.deepEqual(await filesContaining(berth.dataDir, sample(await layerBytes(l.digest))), [], `layer ${l.digest} is not on disk in the clear`);
    }
    const out = await tempDir('berth-enc-out-');
    await skopeo.copy(docker('plain/app:v1'), `oci:${out}:v1`, ['--preserve-digests']);
    for (const l of image.layers) assert.equal(await hashFile(blobPath(out, l.digest)), l.digest);
  });

  it('serves byte ranges of a sealed blob, across chunk boundaries', async () => {
    const data = randomBytes(200_000);
    assert.equal((await pushBlob(berth.url, 'plain/ranges', data, 'patch')).status, 201);
    for (const [start, end] of [
      [0, 0],
      [65_530, 65_545],
      [131_071, 131_072],
      [199_990, 199_999],
      [10, 199_999],
    ] as const) {
      const res = await request(`${berth.url}/v2/plain/ranges/blobs/${sha256(data)}`, { headers: { Range: `bytes=${start}-${end}` } });
      assert.equal(res.status, 206, `${start}-${end}`);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${data.length}`);
      assert.deepEqual(res.body, data.subarray(start, end + 1), `${start}-${end}`);
    }
  });

  it('KMS repositories: a named key from berth admin, its own store, dedup within the key only', async () => {
    const key = (await admin('create-kms-key', '--alias', 'alias/team-a', '--description', 'team A images')).KeyMetadata;
    assert.equal(key.KeyState, 'Enabled');
    const created = await ecr.send(
      new CreateRepositoryCommand({ repositoryName: 'kms/app', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/team-a' } }),
    );
    assert.deepEqual(created.repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: key.Arn });
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/copy', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: String(key.Arn) } }));

    await skopeo.copy(`oci:${src}:app`, docker('kms/app:v1'), ['--preserve-digests']);
    await skopeo.copy(`oci:${src}:app`, docker('kms/copy:v1'), ['--preserve-digests']);
    const keyDir = join(berth.dataDir, 'kms', String(key.KeyId));
    const layer = image.layers[0]!;
    const hex = layer.digest.slice(7);
    // Once under the registry key (plain/app, first test) and once under team-a, for two repositories.
    const copies = (await filesUnder(berth.dataDir)).filter((f) => f.endsWith(`/${hex}`));
    assert.deepEqual(copies.sort(), [join(berth.dataDir, 'blobs/sha256', hex.slice(0, 2), hex), join(keyDir, 'blobs/sha256', hex.slice(0, 2), hex)].sort());
    assert.deepEqual(await filesContaining(keyDir, sample(await layerBytes(layer.digest))), []);

    const out = await tempDir('berth-enc-kms-out-');
    await skopeo.copy(docker('kms/copy:v1'), `oci:${out}:v1`, ['--preserve-digests']);
    for (const l of image.layers) assert.equal(await hashFile(blobPath(out, l.digest)), l.digest);
  });

  it('the aws CLI creates a KMS repository by alias and reads the key ARN back', async () => {
    const env = awsCliEnv(berth);
    const created = JSON.parse(
      (
        await run(
          'aws',
          [
            'ecr',
            'create-repository',
            '--repository-name',
            'kms/cli',
            '--encryption-configuration',
            'encryptionType=KMS,kmsKey=alias/team-a',
            '--output',
            'json',
          ],
          { env },
        )
      ).stdout,
    ) as { repository: { encryptionConfiguration: { encryptionType: string; kmsKey: string } } };
    const key = (await admin('describe-kms-key', '--key-id', 'alias/team-a')).KeyMetadata;
    assert.deepEqual(created.repository.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: key.Arn });
    const failed = await run(
      'aws',
      ['ecr', 'create-repository', '--repository-name', 'kms/cli2', '--encryption-configuration', 'encryptionType=KMS,kmsKey=alias/nope'],
      { env },
    ).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(failed, /KmsException/);
  });

  it('does not mount a blob across encryption keys: the client uploads it instead', async () => {
    const digest = image.layers[1]!.digest;
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/third', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/team-a' } }));
    const res = await request(`${berth.url}/v2/kms/third/blobs/uploads/?mount=${digest}&from=kms/app`, { method: 'POST' });
    assert.equal(res.status, 201, 'same key: mounted');
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/other-key', encryptionConfiguration: { encryptionType: 'KMS' } }));
    const cross = await request(`${berth.url}/v2/kms/other-key/blobs/uploads/?mount=${digest}&from=kms/app`, { method: 'POST' });
    assert.equal(cross.status, 202, 'another key: an upload session instead of a mount');
    assert.equal((await getBlob(berth.url, 'kms/other-key', digest, 'HEAD')).status, 404);
  });

  it("KMS without a key uses the registry's aws/ecr key; an unknown or disabled key is a KmsException", async () => {
    const d = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['kms/other-key'] }));
    const managed = (await admin('describe-kms-key', '--key-id', 'alias/aws/ecr')).KeyMetadata;
    assert.equal(d.repositories?.[0]?.encryptionConfiguration?.kmsKey, managed.Arn);
    assert.equal(managed.KeyManager, 'AWS');

    await assert.rejects(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/none', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/no-such-key' } })),
      (e: Error) => e.name === 'KmsException',
    );
    await assert.rejects(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/none', encryptionConfiguration: { encryptionType: 'AES256', kmsKey: 'alias/team-a' } })),
      (e: Error) => e.name === 'InvalidParameterException',
    );
    await assert.rejects(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['kms/none'] })), (e: Error) => e.name === 'RepositoryNotFoundException');
  });

  it('a disabled key stops pulls and pushes of its repositories until enabled again', async () => {
    const digest = image.layers[0]!.digest;
    await admin('disable-kms-key', '--key-id', 'alias/team-a');
    const denied = await getBlob(berth.url, 'kms/app', digest);
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied), 'DENIED');
    assert.match(denied.body.toString(), /disabled/);
    const push = await pushBlob(berth.url, 'kms/app', randomBytes(1000));
    assert.equal(push.status, 403);
    await assert.rejects(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'kms/late', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/team-a' } })),
      (e: Error) => e.name === 'KmsException',
    );
    // Another key's repositories are untouched.
    assert.equal((await getBlob(berth.url, 'plain/app', digest)).status, 200);

    await admin('enable-kms-key', '--key-id', 'alias/team-a');
    const back = await getBlob(berth.url, 'kms/app', digest);
    assert.equal(back.status, 200);
    assert.equal(sha256(back.body), digest);
  });
});
