/**
 * Issue #14, the manifest GET's read cache (src/metadata/sqlite/read-cache.ts): a server answers
 * repeated manifest GETs without asking SQLite, yet never serves what another process changed.
 * Two `berth serve` processes on one data directory (one SQLite file), and `berth lifecycle run`
 * beside them: every test first GETs through server A, so that A's cache holds the old answer,
 * then changes the registry elsewhere (server B, the CLI) or on A, then GETs through A again.
 * PostgreSQL has no such cache; multi-node.test.ts checks the same across nodes there.
 */
import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DeleteRepositoryPolicyCommand,
  PutLifecyclePolicyCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { errorCode, getManifest, makeImage, pushBlob, pushManifest, type Fetched, type TestImage } from './helpers/registry-http.js';

const run = promisify(execFile);

async function push(base: string, image: TestImage, tag = image.tag): Promise<void> {
  for (const data of image.blobs.values()) assert.equal((await pushBlob(base, image.repo, data)).status, 201);
  const res = await pushManifest(base, image.repo, tag, image.manifest, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(res.status, 201, res.body.toString());
}

/** The digest a GET answered with, after checking that the body is that manifest. */
function servedDigest(res: Fetched, image: TestImage): string | undefined {
  assert.equal(res.status, 200, res.body.toString());
  assert.ok(res.body.equals(image.manifest), 'the body is the manifest the header names');
  return res.headers.get('docker-content-digest') ?? undefined;
}

const imageOf = (repo: string, tag: string) => makeImage(repo, tag, [randomBytes(1024)]);

describe('manifest GETs through the read cache see every change at once', () => {
  let a: BerthProcess;
  let b: BerthProcess;

  before(async () => {
    a = await startBerth();
    // Same data directory: the same SQLite file, server key and admin credentials.
    b = await startBerth({ dataDir: a.dataDir });
  });
  after(async () => {
    await b?.stop();
    await a?.cleanup();
  });

  it('a tag moved by another server on the same data directory is served at once, GET and HEAD', async () => {
    const images = [imageOf('cache/moved', 'v1'), imageOf('cache/moved', 'v1')] as const;
    // Both stored under tags of their own first, so each move below is one manifest PUT on B.
    await push(a.url, images[0], 'one');
    await push(a.url, images[1], 'two');
    await push(a.url, images[0]);
    const head = async () => (await getManifest(a.url, 'cache/moved', 'v1', 'HEAD')).headers.get('docker-content-digest');
    // Several moves: A's own background writes (an event claimed, a pull time flushed) also drop
    // its cache, and one of them landing between the reads below would hide a missed commit.
    for (const [n, image] of [images[1], images[0], images[1], images[0]].entries()) {
      const before = n % 2 === 0 ? images[0] : images[1];
      // HEAD, not GET, to fill A's cache: a GET records a pull, which A writes later.
      for (let i = 0; i < 2; i++) assert.equal(await head(), before.digest);
      const moved = await pushManifest(b.url, 'cache/moved', 'v1', image.manifest, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(moved.status, 201);
      assert.equal(await head(), image.digest, `move ${n}`);
      assert.equal(servedDigest(await getManifest(a.url, 'cache/moved', 'v1'), image), image.digest);
    }
    // And on A itself: its own write is served at once too.
    await push(a.url, images[1]);
    assert.equal(servedDigest(await getManifest(a.url, 'cache/moved', 'v1'), images[1]), images[1].digest);
  });

  it('a repository deleted by another server answers NAME_UNKNOWN at once, by tag and by digest', async () => {
    const image = imageOf('cache/deleted', 'v1');
    await push(a.url, image);
    for (const ref of ['v1', image.digest]) assert.equal((await getManifest(a.url, 'cache/deleted', ref, 'HEAD')).status, 200);
    await ecrClient(b).send(new DeleteRepositoryCommand({ repositoryName: 'cache/deleted', force: true }));
    for (const ref of ['v1', image.digest]) {
      const res = await getManifest(a.url, 'cache/deleted', ref);
      assert.deepEqual([res.status, errorCode(res)], [404, 'NAME_UNKNOWN'], ref);
    }
  });

  it('an image expired by `berth lifecycle run` in another process answers MANIFEST_UNKNOWN at once', async () => {
    const ecr = ecrClient(a);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'cache/expiring' }));
    const old = imageOf('cache/expiring', 'old');
    const kept = imageOf('cache/expiring', 'new');
    await push(a.url, old);
    await push(a.url, kept);
    assert.equal(servedDigest(await getManifest(a.url, 'cache/expiring', 'old'), old), old.digest);
    const policy = {
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }],
    };
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'cache/expiring', lifecyclePolicyText: JSON.stringify(policy) }));
    // Read again after the policy write, so the cache holds the image when the CLI expires it.
    for (const ref of ['old', old.digest]) assert.equal((await getManifest(a.url, 'cache/expiring', ref, 'HEAD')).status, 200);
    await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', a.dataDir, '--repository', 'cache/expiring']);
    for (const ref of ['old', old.digest]) {
      const res = await getManifest(a.url, 'cache/expiring', ref);
      assert.deepEqual([res.status, errorCode(res)], [404, 'MANIFEST_UNKNOWN'], ref);
    }
    assert.equal(servedDigest(await getManifest(a.url, 'cache/expiring', 'new'), kept), kept.digest);
  });

  it('a repository policy revoked on the server stops its GETs at once', async () => {
    const ecr = ecrClient(a);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'cache/shared' }));
    const image = imageOf('cache/shared', 'v1');
    await push(a.url, image);
    const iam = new IAMClient({ endpoint: a.url, region: a.region, credentials: adminCredentials(a) });
    // May log in, and nothing more: reading the repository is the repository policy's grant alone.
    const reader = await createUser(
      a,
      iam,
      'cache-reader',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] }],
    );
    const arn = 'arn:aws:iam::000000000000:user/cache-reader';
    const grant = { Version: '2012-10-17', Statement: [{ Sid: 'read', Effect: 'Allow', Principal: { AWS: arn }, Action: ['ecr:BatchGetImage'] }] };
    const get = () => reader.v2(`/v2/cache/shared/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal((await get()).status, 403, 'no grant yet');
    await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: 'cache/shared', policyText: JSON.stringify(grant) }));
    for (let i = 0; i < 3; i++) assert.equal(servedDigest(await get(), image), image.digest);
    await ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'cache/shared' }));
    const denied = await get();
    assert.deepEqual([denied.status, errorCode(denied)], [403, 'DENIED']);
    // Granted again, then the repository deleted and created anew: its policy went with it.
    await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: 'cache/shared', policyText: JSON.stringify(grant) }));
    assert.equal((await get()).status, 200);
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'cache/shared', force: true }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'cache/shared' }));
    await push(a.url, image);
    assert.deepEqual([(await get()).status, errorCode(await get())], [403, 'DENIED']);
  });
});
